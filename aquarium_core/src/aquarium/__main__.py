"""``python -m aquarium`` runs the CLI."""

from .cli import main

main()
