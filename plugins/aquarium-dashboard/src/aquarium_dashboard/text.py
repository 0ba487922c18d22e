"""Showing what users wrote: always as text, never as markup."""

from __future__ import annotations

import html
import json
from typing import Any

import panel as pn


def plain(value: Any) -> str:
    """A value as the text a table cell shows."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def escaped(value: Any) -> str:
    """A value escaped for an HTML pane (the only way user text goes into one)."""
    return html.escape(plain(value), quote=True)


def text_pane(value: Any, **options: Any) -> pn.pane.Str:
    """A pane that shows ``value`` literally (Panel escapes a ``Str`` pane)."""
    return pn.pane.Str(plain(value), **options)
