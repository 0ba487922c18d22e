"""Showing what users wrote: always as text, never as markup.

Panel's ``Str`` pane is not enough: it escapes once for the wire, and the browser decodes that
and sets the result as HTML, so ``<img onerror=...>`` in a run name would run. :class:`Text`
escapes the text itself first, so what reaches the page's HTML is the escaped text.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable
from typing import Any

import panel as pn


def plain(value: Any) -> str:
    """A value as the text a table cell shows."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def escaped(value: Any) -> str:
    """A value escaped for HTML (the only way user text goes into markup)."""
    return html.escape(plain(value), quote=True)


#: What a text box takes: any length (Panel's default, 5,000 characters, cut longer notes
#: silently in the browser, and "saved" stored the cut text).
NO_LIMIT = 2**31 - 1


def text_input(**options: Any) -> pn.widgets.TextInput:
    """A one-line text box without a length limit."""
    return pn.widgets.TextInput(max_length=NO_LIMIT, **options)


def text_area(**options: Any) -> pn.widgets.TextAreaInput:
    """A text area without a length limit."""
    return pn.widgets.TextAreaInput(max_length=NO_LIMIT, **options)


def choices(values: Iterable[str]) -> dict[str, str]:
    """Options for a MultiChoice: its labels are markup (Choices.js), so each label is the
    escaped value and shows the value literally."""
    return {escaped(value): value for value in values}


def titles(columns: Iterable[Any]) -> dict[str, str]:
    """Tabulator column titles: they are markup, so each is the escaped column name."""
    return {column: escaped(column) for column in columns}


class Text(pn.pane.HTML):
    """A pane that shows its ``object`` literally, preformatted; set ``object`` to any value."""

    def _transform_object(self, obj: Any) -> dict[str, Any]:
        return super()._transform_object(f"<pre class='aquarium-text'>{escaped(obj)}</pre>")


def text_pane(value: Any, **options: Any) -> Text:
    """A :class:`Text` pane showing ``value``."""
    return Text(value, **options)
