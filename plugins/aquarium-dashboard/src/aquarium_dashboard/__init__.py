"""Aquarium's web dashboard: a Panel app assembled from the installed plugins.

``aquarium dashboard`` serves it; so does ``panel serve`` on :data:`APP_FILE`.
"""

from __future__ import annotations

from pathlib import Path

from .context import DashboardContext, Selection, Settings

#: The app file ``panel serve`` takes (``panel serve "$(python -m aquarium_dashboard.app_path)"``).
APP_FILE = str(Path(__file__).with_name("app.py"))

__all__ = ["APP_FILE", "DashboardContext", "Selection", "Settings"]
