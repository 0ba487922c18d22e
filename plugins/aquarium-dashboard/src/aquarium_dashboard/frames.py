"""Runs as table rows: one place that decides the run table's columns."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence

import pandas as pd
from bokeh.models import HTMLTemplateFormatter

from aquarium.charts import THEMES
from aquarium.directions import direction
from aquarium.model import STATUSES, RunRecord

BASE_COLUMNS = ("id", "name", "experiment", "group", "status", "created", "duration")
STATUS_COLORS = {"running": "info", "completed": "success", "failed": "danger", "killed": "warning",
                 "crashed": "palette:4"}


def status_color(status: str, theme: str = "dark") -> str:
    """The badge colour of a status, from the theme's palette."""
    colors = THEMES[theme]
    name = STATUS_COLORS.get(status, "grid")
    if name.startswith("palette:"):
        return colors["palette"][int(name.split(":")[1])]
    return colors[name]


def status_badge(theme: str = "dark") -> HTMLTemplateFormatter:
    """The status column's cell: a coloured badge, drawn in the browser for the rows shown (a
    pandas Styler would compute a style for every run of the store on every update)."""
    colors = json.dumps({status: status_color(status, theme) for status in STATUSES})
    return HTMLTemplateFormatter(template=(
        f"<span class='aquarium-status' style='display:block; padding:0 4px; color:#ffffff; font-weight:600; "
        f"background-color:<%= ({colors})[value] || '{THEMES[theme]['grid']}' %>'><%- value %></span>"))


def duration_cell() -> HTMLTemplateFormatter:
    """Seconds as people read them: 318 ms, 4.25 s, 48.5 s, 5 min 3 s, 2 h 5 min (the cell keeps the
    number, so the column sorts by it). A new model per table: a bokeh model has one document."""
    return HTMLTemplateFormatter(template=(
        "<%= (value == null || isNaN(value)) ? '' "
        ": value < 1 ? Math.round(value * 1000) + ' ms' "
        ": value < 10 ? value.toFixed(2) + ' s' "
        ": value < 60 ? value.toFixed(1) + ' s' "
        ": value < 3600 ? Math.floor(value / 60) + ' min ' + Math.floor(value % 60) + ' s' "
        ": Math.floor(value / 3600) + ' h ' + Math.floor(value % 3600 / 60) + ' min' %>"))


def common_metrics(records: Iterable[RunRecord], limit: int = 2) -> list[str]:
    """The metric keys most runs have: the run table's default metric columns."""
    counts = Counter(key for record in records for key in record.summaries)
    return [key for key, _ in counts.most_common(limit)]


def metric_keys(records: Iterable[RunRecord]) -> list[str]:
    return sorted({key for record in records for key in record.summaries})


def _number(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def run_rows(records: Sequence[RunRecord], metrics: Sequence[str]) -> pd.DataFrame:
    """One row per run: the base columns, then ``<metric> last`` and ``<metric> best``."""
    rows = []
    for r in records:
        ended = r.ended if r.ended is not None else (r.heartbeat if r.status == "crashed" else None)
        start = r.started if r.started is not None else r.created
        row = {"id": r.id, "name": r.name, "experiment": r.experiment, "group": r.group or "",
               "status": r.status, "created": pd.Timestamp(r.created, unit="s", tz="UTC").tz_localize(None),
               "duration": _number((ended - start) if ended is not None and start is not None else None)}
        for key in metrics:
            s = r.summaries.get(key)
            best = None
            if s is not None:
                best = s.min if direction(key, r.directions) == "min" else s.max
            row[f"{key} last"] = _number(s.last if s else None)
            row[f"{key} best"] = _number(best)
        rows.append(row)
    columns = [*BASE_COLUMNS, *(f"{key} {part}" for key in metrics for part in ("last", "best"))]
    frame = pd.DataFrame(rows, columns=columns)
    frame["created"] = pd.to_datetime(frame["created"])
    return frame
