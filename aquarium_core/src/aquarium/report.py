"""The HTML comparison report: one file, every script embedded, everything users wrote escaped."""

from __future__ import annotations

import html
import json
import os
from typing import Any

from .charts import ChartOptions
from .interfaces import Visualizer


def params_table_html(comparison: Any) -> str:
    """The params that differ, as an escaped HTML table (run names as columns)."""
    differing = list(comparison.params.differing)
    if not differing:
        return "<p class='aquarium-params'>All params are equal across these runs.</p>"
    runs = comparison.runs
    head = "".join(f"<th>{html.escape(r.name)}</th>" for r in runs)
    rows = []
    for key in differing:
        values = comparison.params[key]
        cells = "".join(f"<td>{html.escape(_text(values.get(r.id)))}</td>" for r in runs)
        rows.append(f"<tr><th>{html.escape(key)}</th>{cells}</tr>")
    return (f"<table class='aquarium-params'><caption>Params that differ</caption><thead><tr><th>param</th>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _text(value: Any) -> str:
    if value is None:
        return "—"
    return value if isinstance(value, str) else json.dumps(value)


def report_charts(comparison: Any) -> list[str]:
    """The charts a report holds: the summary, the curves, and params against the first metric."""
    charts = ["summary_table", "curves"]
    if len(comparison.runs) > 1 and comparison.params.differing:
        charts.append("parallel_coordinates")
    return charts


def write_report(comparison: Any, visualizer: Visualizer, path: str | os.PathLike, *, title: str | None = None,
                 theme: str = "dark") -> str:
    """Render the report's charts with ``visualizer`` and write one standalone HTML file."""
    options = ChartOptions(theme=theme)
    figures = [visualizer.render(chart, comparison, options) for chart in report_charts(comparison)]
    title = title or f"Aquarium comparison of {len(comparison.runs)} runs"
    document = visualizer.to_html(figures, title=title, theme=theme, header_html=params_table_html(comparison))
    with open(path, "w", encoding="utf-8") as f:
        f.write(document)
    return os.fspath(path)
