"""Export: one card per installed exporter; the export runs in the background with progress and
says per run what happened."""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import panel as pn

import aquarium
from aquarium.interfaces import DashboardPage, Exporter
from aquarium.interop import exporters

from ..context import DashboardContext
from ..tables import table
from ..text import text_input, text_pane

RESULT_COLUMNS = ["run", "status", "target id", "detail"]


class ExportPage(DashboardPage):
    name = "export"
    title = "Export"
    order = 40

    def build(self, context: DashboardContext) -> Any:
        found = exporters()
        if not found:
            return pn.pane.Markdown("*No exporter plugin is installed: pip install aquarium-mlflow, "
                                    "aquarium-wandb or aquarium-tensorboard.*")
        cards = [ExportCard(context, name, exporter).view for name, exporter in sorted(found.items())]
        return pn.Column(pn.pane.Markdown("Exports the runs ticked in the Experiments table."),
                         pn.FlexBox(*cards), sizing_mode="stretch_width")


class ExportCard:
    def __init__(self, context: DashboardContext, name: str, exporter: Exporter) -> None:
        self.context, self.name = context, name
        self.target = text_input(label=exporter.target_help or "to", width=360,
                                 disabled=not context.allow_export, css_classes=["aquarium-export-to"])
        self.button = pn.widgets.Button(label=f"Export to {name}", color="primary",
                                        disabled=not context.allow_export, css_classes=["aquarium-export-button"])
        self.progress = pn.indicators.Progress(value=0, max=1, width=360, visible=False,
                                               css_classes=["aquarium-export-progress"])
        self.status = text_pane("", css_classes=["aquarium-export-status"])
        self.results = table(context, pd.DataFrame(columns=RESULT_COLUMNS), width=580, visible=False,
                             css_classes=["aquarium-export-results"])
        self.button.on_click(self.start)
        notice = [] if context.allow_export else [pn.pane.Markdown(
            "*Exports typed into the page are off: start the dashboard with `--allow-export`.*")]
        self.view = pn.Card(text_pane(exporter.description), *notice, self.target, self.button, self.progress,
                            self.status, self.results, title=name, collapsible=False, width=600,
                            css_classes=["aquarium-export-card", f"aquarium-export-{name}"])

    def _name(self, run_id: str) -> str:
        try:
            return self.context.store.get_run(run_id).name
        except Exception:  # deleted meanwhile: the id is all there is
            return run_id

    async def start(self, _: Any) -> None:
        if not self.context.allow_export:  # the button is disabled too; a crafted event must not pass
            self.status.object = "exports are not allowed on this dashboard"
            return
        ids, to = list(self.context.selection.run_ids), self.target.value.strip()
        if not ids or not to:
            self.results.visible = False  # an earlier export's rows would read as this one's
            self.status.object = "tick runs in the Experiments table and say where to export them"
            return
        self.button.disabled = True
        self.progress.max, self.progress.value, self.progress.visible = len(ids), 0, True
        rows: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        try:
            for i, run_id in enumerate(ids, 1):
                self.status.object = f"exporting {i} of {len(ids)} ..."
                try:
                    results = await loop.run_in_executor(None, lambda r=run_id: aquarium.export(
                        [r], self.name, to=to, store=self.context.store, progress=False))
                except Exception as error:  # the target refused before anything was written
                    rows.append({"run": self._name(run_id), "status": "failed", "target id": "",
                                 "detail": f"{type(error).__name__}: {error}"})
                else:
                    rows += [{"run": r.run_name, "status": r.status, "target id": r.target_id or "",
                              "detail": r.error or f"{r.points:,} points, {r.artifacts} artifacts"}
                             for r in results]
                self.progress.value = i
                self.results.value = pd.DataFrame(rows, columns=RESULT_COLUMNS)
                self.results.visible = True
            failed = sum(row["status"] == "failed" for row in rows)
            self.status.object = f"done: {len(rows) - failed} exported, {failed} failed"
        finally:
            self.button.disabled = False
