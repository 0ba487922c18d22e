"""A griffe extension for the API reference: Aquarium's docstrings use a few reST habits that
Markdown would render literally or wrongly; this rewrites them as the docs are built.

- roles: ``:class:`aquarium.Store``` and ``:meth:`~Run.log``` become code spans;
- doctest lines (``>>> x``) become a fenced Python block (Markdown reads ``>`` as a quote);
- a paragraph ending in ``::`` before an indented block ends in ``:`` (the block is code either way).

The source files are not changed. Loaded by mkdocs.yml (``extensions:`` of the python handler).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const):`~?([^`]+)`")
_LITERAL = re.compile(r"::\n(\n[ \t]+)")


def rewrite(text: str) -> str:
    """The docstring ``text`` as Markdown."""
    text = _ROLE.sub(lambda m: f"`{m.group(1)}`", text)
    text = _LITERAL.sub(r":\n\1", text)
    out: list[str] = []
    in_doctest = False
    for line in text.split("\n"):
        doctest = line.lstrip().startswith((">>>", "... ")) or line.strip() == "..."
        if doctest and not in_doctest:
            out.append("```python")
        elif in_doctest and not doctest:
            out.append("```")
        in_doctest = doctest
        out.append(line)
    if in_doctest:
        out.append("```")
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrites every docstring once, when its object is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
