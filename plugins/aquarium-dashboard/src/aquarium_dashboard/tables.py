"""Read-only tables in the page's theme: the one place for the dashboard's Tabulator defaults."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from .context import DashboardContext


def table(context: DashboardContext, frame: pd.DataFrame, **options: Any) -> pn.widgets.Tabulator:
    """A Tabulator showing ``frame`` as text (no index, no editing), themed like the page; the
    columns fit their contents and the last one takes the rest of the width."""
    options.setdefault("layout", "fit_data_stretch")
    return pn.widgets.Tabulator(frame, theme=context.table_theme, show_index=False, disabled=True, **options)
