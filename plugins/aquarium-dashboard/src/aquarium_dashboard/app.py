"""The file ``panel serve`` takes: ``panel serve "$(aquarium dashboard --app-path)"``.

Settings come from the environment: ``AQUARIUM_STORE``, ``AQUARIUM_DASHBOARD_REFRESH`` (seconds),
``AQUARIUM_DASHBOARD_ALLOW_EXPORT`` (1/0), ``AQUARIUM_DASHBOARD_READ_ONLY`` (1/0) and
``AQUARIUM_DASHBOARD_CHARTS`` (visualizer names, comma-separated; default: all installed).
"""

from aquarium_dashboard.layout import app_from_environment

app_from_environment().servable(title="Aquarium")  # loads the Panel extensions this session needs
