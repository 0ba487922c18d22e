"""``summary_table``: per run, each metric's best and last values with their steps.

A ``DataTable`` (sortable, numbers stay numbers); the best run of each metric has its best
cell bold in the theme's success colour (``Comparison.best`` decides, following the metric's
direction). Cells are formatted by bokeh's own formatters, which write text, never HTML.
Source key ``summary``; the column ``<metric>|best_style`` is ``"bold"`` on the best row.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
from bokeh.models import (
    Column,
    DataTable,
    Div,
    InlineStyleSheet,
    NumberFormatter,
    ScientificFormatter,
    StringFormatter,
    TableColumn,
)

from aquarium.charts import ChartOptions
from aquarium.errors import AquariumError

from ._common import chart_metrics, source

TITLE = "Summary: best and last value of each metric per run (the best run of each metric highlighted)"


def table_css(options: ChartOptions) -> str:
    c = options.colors
    return f"""
:host {{ --aq-bg: {c['background']}; --aq-paper: {c['paper']}; --aq-text: {c['text']}; --aq-grid: {c['grid']}; }}
.slick-header-column, .slick-header, .slick-headerrow, .slick-header-columns {{
  background: var(--aq-paper) !important; color: var(--aq-text) !important; border-color: var(--aq-grid) !important;
  font-weight: bold; }}
.slick-row, .slick-row.odd, .slick-row.even {{ background: var(--aq-bg) !important; }}
.slick-row.odd {{ filter: brightness(1.08); }}
.slick-cell {{ color: var(--aq-text); border-color: var(--aq-grid) !important; }}
.slick-cell.selected, .slick-cell.active {{ background: {c['primary']} !important; }}
.bk-data-table, .slick-viewport, .slick-pane {{ background: var(--aq-bg) !important; }}
"""


def render(comparison: Any, options: ChartOptions) -> Any:
    metrics = chart_metrics(comparison, options)
    runs = comparison.runs
    c = options.colors
    data: dict[str, Any] = {
        "run": [r.name for r in runs],
        "id": [r.id for r in runs],
        "group": [r.group or "" for r in runs],
        "status": [r.effective_status() for r in runs],
    }
    columns = [TableColumn(field="run", title="run", formatter=StringFormatter(font_style="bold"), width=180),
               TableColumn(field="group", title="group", width=100),
               TableColumn(field="status", title="status", width=80),
               TableColumn(field="id", title="id", width=110)]
    number = {"precision": 6, "power_limit_high": 7, "power_limit_low": -4, "nan_format": "NaN"}
    for metric in metrics:
        try:
            best = comparison.best(metric)
        except (AquariumError, KeyError):
            best = None
        rows = [comparison.summary.get(r.id, metric) for r in runs]
        arrow = {"min": " ↓", "max": " ↑"}.get(next((row.direction for row in rows if row is not None), ""), "")
        data[f"{metric}|best"] = np.array([row.best if row else math.nan for row in rows], dtype=np.float64)
        data[f"{metric}|best_step"] = np.array(
            [row.best_step if row and row.best_step is not None else math.nan for row in rows], dtype=np.float64)
        data[f"{metric}|last"] = np.array([row.last if row else math.nan for row in rows], dtype=np.float64)
        data[f"{metric}|last_step"] = np.array([row.last_step if row else math.nan for row in rows],
                                               dtype=np.float64)
        highlight = [best is not None and r.id == best.run_id for r in runs]
        data[f"{metric}|best_style"] = ["bold" if h else "normal" for h in highlight]
        data[f"{metric}|best_color"] = [c["success"] if h else c["text"] for h in highlight]
        name = html.escape(metric)  # DataTable titles are markup
        columns += [
            TableColumn(field=f"{metric}|best", title=f"{name} best{arrow}", width=120,
                        formatter=ScientificFormatter(font_style={"field": f"{metric}|best_style"},
                                                      text_color={"field": f"{metric}|best_color"}, **number)),
            TableColumn(field=f"{metric}|best_step", title=f"{name} best step", width=90,
                        formatter=NumberFormatter(format="0,0", nan_format="—")),
            TableColumn(field=f"{metric}|last", title=f"{name} last", width=110,
                        formatter=ScientificFormatter(**number)),
            TableColumn(field=f"{metric}|last_step", title=f"{name} last step", width=90,
                        formatter=NumberFormatter(format="0,0", nan_format="—")),
        ]
    width = int(min(1400, sum(col.width for col in columns) + 40))
    table = DataTable(source=source("summary", data), columns=columns, width=width,
                      height=int(min(560, 30 + 28 * max(len(runs), 1))), index_position=None, sortable=True,
                      reorderable=False,
                      stylesheets=[InlineStyleSheet(css=table_css(options))])
    heading = Div(text=TITLE, styles={"color": c["text"], "font-weight": "bold", "padding": "6px 0"})
    layout = Column(heading, table, styles={"background-color": c["paper"], "padding": "8px"})
    layout.tags = [{"aquarium_chart": "summary_table", "metrics": metrics}]
    return layout
