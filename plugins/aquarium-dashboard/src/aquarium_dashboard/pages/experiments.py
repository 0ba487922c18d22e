"""Experiments: the run table with the query box and filters, and the run detail under it."""

from __future__ import annotations

import datetime
import time
from typing import Any

import panel as pn

from aquarium.errors import QueryError
from aquarium.interfaces import DashboardPage
from aquarium.model import STATUSES, RunRecord
from aquarium.query import matches, parse, quote, quote_key

from ..context import DashboardContext
from ..detail import RunDetail
from ..frames import common_metrics, duration_cell, metric_keys, run_rows, status_badge, status_color
from ..tables import show, table
from ..text import choices, text_input, text_pane

PAGE_SIZE = 20
TEXT_FILTER = {"type": "input", "func": "like", "placeholder": "filter"}


class ExperimentsPage(DashboardPage):
    name = "experiments"
    title = "Experiments"
    order = 10

    def build(self, context: DashboardContext) -> Any:
        return RunBrowser(context).view


class RunBrowser:
    """The run table of one session. The browser only ever receives one page of rows."""

    def __init__(self, context: DashboardContext) -> None:
        self.context = context
        self.records: dict[str, RunRecord] = {}
        self.partial = False  # only the newest page is loaded yet
        self.query_text = ""
        self.query = text_input(
            label="Query", placeholder='e.g. params.lr < 1 and metrics.val/acc.best > 0.8', sizing_mode="stretch_width",
            css_classes=["aquarium-query"])
        self.search_text = text_input(label="Search", placeholder="names, tags, notes, params", width=220,
                                      css_classes=["aquarium-search"])
        self.statuses = pn.widgets.MultiChoice(label="Status", options=list(STATUSES), width=260,
                                               css_classes=["aquarium-status-filter"])
        self.dates = pn.widgets.DateRangePicker(label="Created", width=220)
        self.tag = text_input(label="Tag", placeholder="key=value", width=160, css_classes=["aquarium-tag"])
        self.metrics = pn.widgets.MultiChoice(label="Metric columns", options=[], width=320)
        self.error = text_pane("", visible=False, css_classes=["aquarium-query-error"],
                                 styles={"color": status_color("failed", context.theme)})
        self.count = text_pane("", css_classes=["aquarium-run-count"])
        self.table = table(
            context, run_rows([], []), pagination="remote", page_size=PAGE_SIZE, selectable="checkbox",
            sizing_mode="stretch_width", hidden_columns=["id"], css_classes=["aquarium-runs"],
            formatters={"status": status_badge(context.theme), "duration": duration_cell()},
            header_filters={c: TEXT_FILTER for c in ("name", "experiment", "group", "status")},
        )
        self.detail = RunDetail(context)
        for widget in (self.query, self.search_text, self.statuses, self.dates, self.tag):
            widget.param.watch(lambda _: self.reload(), "value")
        self.metrics.param.watch(lambda _: self.render(), "value")
        self.table.param.watch(self._selected, "selection")
        self.table.on_click(self._clicked)
        context.on_refresh(self.tick)
        self.view = pn.Column(
            pn.Row(self.query, sizing_mode="stretch_width"),
            pn.Row(self.search_text, self.statuses, self.dates, self.tag, self.metrics),
            self.error, self.count, self.table, self.detail.view, sizing_mode="stretch_width",
        )
        if pn.state.curdoc is not None and pn.state.curdoc.session_context is not None:
            self.reload(limit=PAGE_SIZE)  # the newest page first: what the browser shows first
            pn.state.onload(self.reload)  # then every run, once the page is up
        else:
            self.reload()

    # -- the query ------------------------------------------------------------------------------
    def compose(self) -> str:
        """The widgets' filters as one query of the query language; the user's own part is
        parsed alone first, so an error's caret points into what the user typed."""
        own = self.query.value.strip()
        if own:
            parse(own)
        parts = [f"({own})"] if own else []
        if self.search_text.value.strip():
            parts.append(quote(self.search_text.value.strip()))
        if self.statuses.value:
            parts.append(f"status in ({', '.join(quote(s) for s in self.statuses.value)})")
        if self.dates.value and all(self.dates.value):
            start, end = self.dates.value
            parts.append(f'created >= "{start.isoformat()}" and created < '
                         f'"{(end + datetime.timedelta(days=1)).isoformat()}"')
        tag = self.tag.value.strip()
        if tag:
            key, sep, value = tag.partition("=")
            if not key.strip():
                raise QueryError("a tag filter is key=value (or just key)", tag, 0)
            field = f"tags.{quote_key(key.strip())}"
            parts.append(f"{field} = {quote(value.strip())}" if sep else f"{field} is not null")
        return " and ".join(parts)

    def reload(self, limit: int | None = None) -> None:
        """Search again from scratch (a filter changed); ``limit`` reads only the newest runs."""
        try:
            query = self.compose()
        except QueryError as error:
            self.error.object, self.error.visible = str(error), True
            return
        self.error.object, self.error.visible = "", False
        self.query_text = query
        found = self.context.store.search(query, order_by=["-created"], limit=limit)
        self.partial = limit is not None and len(found) == limit
        self.records = {r.id: r for r in found}
        keys = metric_keys(found)
        chosen = [k for k in self.metrics.value if k in keys] or common_metrics(found)
        self.metrics.options = choices(keys)
        if self.metrics.value != chosen:
            self.metrics.value = chosen  # renders through the watcher
        else:
            self.render()

    def tick(self) -> None:
        """New runs and the running ones only: runs created since the newest shown, and every
        run that was running (its status, metrics, or whether it still matches may change)."""
        newest = max((r.created for r in self.records.values()), default=0.0)
        since = datetime.datetime.fromtimestamp(newest).isoformat()
        query = f'({self.query_text}) and created >= "{since}"' if self.query_text else f'created >= "{since}"'
        changed = False
        for record in self.context.store.search(query, order_by=["-created"]):
            if record.id not in self.records or record != self.records[record.id]:
                self.records[record.id], changed = record, True
        now = time.time()
        for run_id in [i for i, r in self.records.items() if r.status == "running"]:
            try:
                record = self.context.store.get_run(run_id)
            except Exception:  # deleted meanwhile
                record = None
            if record is None or (self.query_text and not matches(record, self.query_text, now=now)):
                self.records.pop(run_id, None)
                changed = True
            elif record != self.records[run_id]:
                self.records[run_id], changed = record, True
        if changed:
            keys = metric_keys(self.records.values())
            if choices(keys) != self.metrics.options:
                self.metrics.options = choices(keys)
            if not self.metrics.value and keys:  # the first metrics arrived: show the usual columns
                self.metrics.value = common_metrics(self.records.values())  # renders through the watcher
            else:
                self.render()

    # -- the table ------------------------------------------------------------------------------
    def render(self) -> None:
        ordered = sorted(self.records.values(), key=lambda r: (r.created, r.id), reverse=True)
        selected = set(self.context.selection.run_ids)
        frame = run_rows(ordered, self.metrics.value)
        show(self.table, frame)
        self.table.selection = [i for i, run_id in enumerate(frame["id"]) if run_id in selected]
        self.count.object = f"{len(frame):,}+ runs (loading the rest)" if self.partial else f"{len(frame):,} runs"

    def _selected(self, event: Any) -> None:
        ids = self.table.value["id"]
        self.context.selection.run_ids = [ids.iloc[i] for i in event.new if i < len(ids)]

    def _clicked(self, event: Any) -> None:
        if event.column == "_selection":  # the checkbox column selects; it does not open
            return
        self.detail.show(self.table.value["id"].iloc[event.row])
