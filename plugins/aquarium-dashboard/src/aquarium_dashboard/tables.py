"""Read-only tables in the page's theme: the one place for the dashboard's Tabulator defaults."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from .context import DashboardContext


def table(context: DashboardContext, frame: pd.DataFrame, **options: Any) -> pn.widgets.Tabulator:
    """A Tabulator showing ``frame`` as text (no index, no editing), themed like the page."""
    return pn.widgets.Tabulator(frame, theme=context.table_theme, show_index=False, disabled=True, **options)
