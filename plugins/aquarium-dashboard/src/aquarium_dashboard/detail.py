"""The run detail: params as a tree, tags, notes (editable unless read-only), source, artifacts, curves."""

from __future__ import annotations

import io
import posixpath
from typing import Any

import pandas as pd
import panel as pn

import aquarium
from aquarium.serialization import converter

from .charts import LiveChart
from .context import DashboardContext
from .tables import table
from .text import plain, text_area, text_pane


class RunDetail:
    """The detail of one run, shown under the run table when a row is clicked."""

    def __init__(self, context: DashboardContext) -> None:
        self.context = context
        self.run_id: str | None = None
        self.chart: LiveChart | None = None
        self.curves = pn.Column(sizing_mode="stretch_width")
        self.view = pn.Column(pn.pane.Markdown("*Click a run to see its details.*"),
                              sizing_mode="stretch_width", css_classes=["aquarium-run-detail"])
        context.on_refresh(self.refresh)

    def show(self, run_id: str) -> None:
        self.run_id = run_id
        record = self.context.store.get_run(run_id)
        notes = text_area(value=record.notes, height=120, sizing_mode="stretch_width",
                          disabled=self.context.read_only, label="Notes")
        parts: list[Any] = [
            pn.Row(text_pane(record.name, css_classes=["aquarium-run-name"]),
                   text_pane(f"{record.status}  ·  {record.experiment}  ·  {record.id}",
                             css_classes=["aquarium-run-meta"])),
        ]
        if record.error:
            parts.append(text_pane(record.error, css_classes=["aquarium-run-error"]))
        parts.append(pn.Row(
            pn.Column("**Params**", pn.pane.JSON(record.params, depth=3, theme=self._json_theme(),
                                                 css_classes=["aquarium-params-tree"]), width=380),
            pn.Column("**Tags**", self._tags(record.tags), width=320),
            pn.Column("**Notes**", notes, *self._save(notes), sizing_mode="stretch_width"),
        ))
        source = converter.unstructure(record.source) if record.source is not None else {}
        parts.append(pn.Row(
            pn.Column("**Source**", pn.pane.JSON(source, depth=1, theme=self._json_theme()), width=380),
            pn.Column("**Artifacts**", *self._artifacts(record), sizing_mode="stretch_width"),
        ))
        self.chart = None
        self.curves = pn.Column(sizing_mode="stretch_width")
        parts.append(self.curves)
        self.view[:] = parts
        self._draw_curves(record)

    def _draw_curves(self, record: Any) -> None:
        """The run's curves, once it has points (a run just started may have none yet)."""
        if record.summaries:
            self.chart = LiveChart(self.context, "curves", max_points=1000)
            self.curves[:] = [self.chart.draw(aquarium.compare([record], store=self.context.store))]

    def refresh(self) -> None:
        """Extend the open run's curves while it is running (draw them when its first points come)."""
        if self.run_id is None:
            return
        record = self.context.store.get_run(self.run_id)
        if self.chart is None:
            self._draw_curves(record)
        elif record.status == "running" or self.chart.figure is None:
            self.chart.update(aquarium.compare([record], store=self.context.store))

    def _json_theme(self) -> str:
        return "dark" if self.context.theme == "dark" else "light"

    def _tags(self, tags: dict[str, str]) -> Any:
        frame = pd.DataFrame(sorted(tags.items()), columns=["tag", "value"])
        return table(self.context, frame, height=min(300, 80 + 36 * len(tags)),
                                    css_classes=["aquarium-tags"])

    def _save(self, notes: pn.widgets.TextAreaInput) -> list[Any]:
        if self.context.read_only:
            return [pn.pane.Markdown("*The store is read-only: notes cannot be edited here.*")]
        status = text_pane("", css_classes=["aquarium-notes-status"])
        button = pn.widgets.Button(label="Save notes", color="primary", css_classes=["aquarium-save-notes"])

        def save(_: Any) -> None:
            run_id = self.run_id
            try:
                self.context.store.update_run(run_id, notes=notes.value)
            except Exception as error:  # a store that refuses: say so, keep the text in the box
                status.object = f"not saved: {error}"
            else:
                status.object = "saved"
        button.on_click(save)
        return [button, status]

    def _artifacts(self, record: Any) -> list[Any]:
        if not record.artifacts:
            return [pn.pane.Markdown("*No artifacts.*")]
        store, run_id = self.context.store, record.id
        widgets = []
        for artifact in record.artifacts:
            label = f"{plain(artifact.name)} ({artifact.size:,} bytes, {artifact.kind})"
            # The bytes come through the store, which only reads files inside the run's own folder.
            widgets.append(pn.widgets.FileDownload(
                callback=lambda name=artifact.name: io.BytesIO(store.read_artifact(run_id, name)),
                filename=posixpath.basename(artifact.name) or "artifact", label=label, embed=False,
                color="default", css_classes=["aquarium-artifact"]))
        return widgets
