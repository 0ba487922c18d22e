"""A report made in a process that has also imported Panel (the dashboard's "Download report")
is still one self-contained file: bokeh would otherwise add the stylesheets and scripts of every
model class the process knows, such as Panel's Tabulator."""

from __future__ import annotations

import re

import pytest

import aquarium
from aquarium.charts import ChartOptions
from aquarium_bokeh import BokehVisualizer


def test_report_holds_no_outside_resources_when_panel_is_loaded(tmp_path):
    pytest.importorskip("panel.models.tabulator")  # registers Panel's models with bokeh
    with aquarium.start_run(name="a", store=str(tmp_path), capture_source=False) as run:
        run.log({"loss": 1.0}, step=0)
    comparison = aquarium.compare([run.id], store=str(tmp_path))
    visualizer = BokehVisualizer()
    document = visualizer.to_html([visualizer.render("curves", comparison, ChartOptions())], title="t")
    assert not re.search(r"<script[^>]*\ssrc=", document)
    assert not re.search(r"<link[^>]*\shref=", document)
    assert "tabulator" not in document.lower()
