"""Compare: summary cards, metric charts with smoothing and x axis, params that differ, the
performance summary with winners, group aggregates, and the HTML report."""

from __future__ import annotations

import io
import math
import os
import tempfile
from typing import Any

import pandas as pd
import panel as pn

import aquarium
from aquarium.charts import X_AXES
from aquarium.interfaces import DashboardPage
from aquarium.report import write_report

from ..charts import LiveChart, hint
from ..context import DashboardContext
from ..tables import table
from ..text import choices, plain, text_pane

SMOOTHINGS = {"none": None, "EMA 0.6": "ema:0.6", "EMA 0.9": "ema:0.9", "time-weighted EMA 0.6": "twema:0.6",
              "moving average 10": "ma:10"}
MAX_POINTS = 400  # a subplot is a few hundred pixels wide; min/max buckets keep every spike


class ComparePage(DashboardPage):
    name = "compare"
    title = "Compare"
    order = 20

    def build(self, context: DashboardContext) -> Any:
        return CompareView(context).view


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.6g}"


class CompareView:
    name = ComparePage.name

    def __init__(self, context: DashboardContext) -> None:
        self.context = context
        self.comparison: Any = None  # every metric, from the summaries: cards, tables
        self.charted: Any = None  # the charted metrics only: their points
        self.metrics = pn.widgets.MultiChoice(label="Metrics", options=[], width=420, css_classes=["aquarium-metrics"])
        self.smoothing = pn.widgets.Select(label="Smoothing", options=list(SMOOTHINGS), width=200,
                                           css_classes=["aquarium-smoothing"])
        self.x_axis = pn.widgets.Select(label="x axis", options=list(X_AXES), width=160, css_classes=["aquarium-x"])
        self.report = pn.widgets.FileDownload(callback=self._report, filename="aquarium-report.html",
                                              label="Download report", color="primary", embed=False,
                                              css_classes=["aquarium-report"])
        self.body = pn.Column(sizing_mode="stretch_width")
        self.chart: LiveChart | None = None
        self.view = pn.Column(pn.Row(self.metrics, self.smoothing, self.x_axis, self.report), self.body,
                              sizing_mode="stretch_width", css_classes=["aquarium-compare"])
        rebuild = context.on_shown(self.name, self.rebuild)  # 20 runs × 100,000 steps: only when looked at
        redraw = context.on_shown(self.name, self.draw_chart)
        context.selection.param.watch(rebuild, "run_ids")
        context.settings.param.watch(redraw, "backend")
        for widget in (self.smoothing, self.x_axis, self.metrics):
            widget.param.watch(redraw, "value")
        context.on_refresh(self.refresh)
        rebuild()

    def rebuild(self) -> None:
        ids = self.context.selection.run_ids
        if len(ids) < 2:
            self.comparison = self.charted = None
            self.report.disabled = True
            self.body[:] = [pn.pane.Markdown("*Tick two or more runs in the Experiments table to compare them.*",
                                             css_classes=["aquarium-compare-hint"])]
            return
        self.comparison = aquarium.compare(ids, store=self.context.store)
        self.report.disabled = self.context.visualizer is None
        metrics = self.comparison.metrics
        chosen = [m for m in self.metrics.value if m in metrics] or metrics[:4]
        self.metrics.options = choices(metrics)
        self.chart = None
        self.body[:] = [self._cards(), pn.Column(sizing_mode="stretch_width"), self._performance(),
                        self._params(), pn.Column()]
        if self.metrics.value != chosen:
            self.metrics.value = chosen  # draws through the watcher
        else:
            self.draw_chart()

    def _options(self) -> dict[str, Any]:
        return {"metrics": self.metrics.value or None, "x": self.x_axis.value,
                "smoothing": SMOOTHINGS[self.smoothing.value], "max_points": MAX_POINTS}

    def _charted(self) -> Any:
        """The runs again, with only the charted metrics: only their points are read (20 runs of
        10 metrics × 100,000 steps are 480 MB; the 4 charted ones are what the page needs)."""
        return aquarium.compare(self.comparison.runs, self.metrics.value or None, store=self.context.store)

    def draw_chart(self) -> None:
        if self.comparison is None:
            return
        self.charted = self._charted()
        self.chart = LiveChart(self.context, "smoothed" if self._options()["smoothing"] else "curves",
                               **self._options())
        self.body[1] = self.chart.draw(self.charted)
        self.body[4] = self._groups()

    def refresh(self) -> None:
        """Running runs: fresh summaries and their new points streamed into the open chart."""
        if self.comparison is None or self.context.settings.page != self.name \
                or not any(r.status == "running" for r in self.comparison.runs):
            return
        self.comparison = aquarium.compare(self.context.selection.run_ids, store=self.context.store)
        self.charted = self._charted()
        if self.chart is not None:
            self.chart.update(self.charted)
        self.body[0] = self._cards()
        self.body[2] = self._performance()

    # -- the parts -----------------------------------------------------------------------------
    def _cards(self) -> Any:
        cards = []
        for metric in self.comparison.metrics:
            try:
                best = self.comparison.best(metric)
            except Exception as error:  # runs that disagree on the direction: say so on the card
                body = text_pane(str(error))
            else:
                body = text_pane("no finite value" if best is None else
                                 f"{_fmt(best.value)} at step {best.step}\n{best.run_name}")
            colors = self.context.chart_options().colors
            title = text_pane(f"{metric} ({self._direction(metric)})", styles={"font-weight": "700"})
            cards.append(pn.Column(title, body, width=230, css_classes=["aquarium-summary-card"],
                                   styles={"background": colors["paper"], "color": colors["text"],
                                           "border-left": f"4px solid {colors['primary']}", "padding": "4px 10px",
                                           "border-radius": "4px", "margin": "4px"}))
        return pn.FlexBox(*cards, sizing_mode="stretch_width")

    def _direction(self, metric: str) -> str:
        try:
            return self.comparison.direction_of(metric)
        except Exception:
            return "mixed"

    def _performance(self) -> Any:
        rows = []
        winners = {}
        for metric in self.comparison.metrics:
            try:
                best = self.comparison.best(metric)
            except Exception:
                best = None
            winners[metric] = best.run_id if best else None
        for stats in self.comparison.summary:
            rows.append({"metric": stats.metric, "run": stats.run_name, "best": stats.best,
                         "best step": stats.best_step, "last": stats.last, "count": stats.count,
                         "winner": "★" if winners.get(stats.metric) == stats.run_id else ""})
        frame = pd.DataFrame(rows, columns=["metric", "run", "best", "best step", "last", "count", "winner"])
        grid = table(self.context, frame, sizing_mode="stretch_width",
                                     pagination="local", page_size=20, css_classes=["aquarium-performance"])
        grid.style.apply(lambda row: ["font-weight: 700" if row["winner"] else "" for _ in row], axis=1)
        return pn.Column("### Performance", grid, sizing_mode="stretch_width")

    def _params(self) -> Any:
        params = self.comparison.params
        differing = set(params.differing)
        names = [r.name for r in self.comparison.runs]
        columns = _unique(names)
        rows = []
        for key in params:
            values = params[key]
            cells = {col: plain(values.get(r.id)) for col, r in zip(columns, self.comparison.runs)}
            rows.append({"param": key, **cells})
        frame = pd.DataFrame(rows, columns=["param", *columns])
        grid = table(self.context, frame, sizing_mode="stretch_width",
                                     css_classes=["aquarium-params-table"])
        color = self.context.chart_options().colors["warning"]
        grid.style.apply(lambda row: [f"background-color: {color}; color: #1a252f" if row["param"] in differing
                                       else "" for _ in row], axis=1)
        note = f"{len(differing)} of {len(frame)} params differ (highlighted)."
        return pn.Column("### Params", text_pane(note, css_classes=["aquarium-differing"]), grid,
                         sizing_mode="stretch_width")

    def _groups(self) -> Any:
        """Runs that share a group, aggregated (a group with one run compared has nothing to add)."""
        rows = []
        for metric in self.charted.metrics:
            for name, agg in self.charted.shared_groups(metric).items():
                ci = agg.final
                rows.append({"group": name, "metric": metric, "runs": ci.n, "final mean": ci.mean,
                             "95% CI low": ci.low, "95% CI high": ci.high})
        if not rows:
            return pn.Column()
        frame = pd.DataFrame(rows, columns=["group", "metric", "runs", "final mean", "95% CI low", "95% CI high"])
        return pn.Column("### Groups (final value, Student's t)",
                         table(self.context, frame, sizing_mode="stretch_width",
                                              css_classes=["aquarium-groups"]),
                         sizing_mode="stretch_width")

    def _report(self) -> io.BytesIO:
        if self.charted is None or self.context.visualizer is None:
            return io.BytesIO(hint().object.encode())
        fd, path = tempfile.mkstemp(suffix=".html")
        os.close(fd)
        try:
            write_report(self.charted, self.context.visualizer, path,
                         theme="dark" if self.context.theme == "dark" else "light")
            with open(path, "rb") as f:
                return io.BytesIO(f.read())
        finally:
            os.unlink(path)


def _unique(names: list[str]) -> list[str]:
    """Column labels from run names, made unique (two runs may share a name)."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
