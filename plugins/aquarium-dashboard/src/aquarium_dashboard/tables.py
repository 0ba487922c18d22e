"""Read-only tables in the page's theme: the one place for the dashboard's Tabulator defaults."""

from __future__ import annotations

from typing import Any

import pandas as pd
import panel as pn

from .context import DashboardContext
from .text import titles


def table(context: DashboardContext, frame: pd.DataFrame, **options: Any) -> pn.widgets.Tabulator:
    """A Tabulator showing ``frame`` as text (no index, no editing, column names escaped: a
    title is markup), themed like the page; the columns fit their contents and the last one
    takes the rest of the width. Put a frame with other columns in with :func:`show`."""
    options.setdefault("layout", "fit_data_stretch")
    options.setdefault("titles", titles(frame.columns))
    return pn.widgets.Tabulator(frame, theme=context.table_theme, show_index=False, disabled=True, **options)


def show(tabulator: pn.widgets.Tabulator, frame: pd.DataFrame) -> None:
    """Put ``frame`` into ``tabulator``, its column names escaped as titles."""
    tabulator.titles = titles(frame.columns)
    tabulator.value = frame
