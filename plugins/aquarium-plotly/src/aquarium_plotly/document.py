"""``to_html``: one standalone page, plotly.js embedded once, everything users wrote escaped."""

from __future__ import annotations

import html
import time
from collections.abc import Sequence
from typing import Any

from aquarium.charts import THEMES

#: plotly.js options of every embedded figure: no plotly logo or cloud links, a PNG button.
CONFIG = {"displaylogo": False, "responsive": True,
          "toImageButtonOptions": {"format": "png", "scale": 2}}


def _css(theme: str) -> str:
    c = THEMES[theme]
    return f"""
:root {{ color-scheme: {"dark" if theme == "dark" else "light"}; }}
body {{ margin: 0; padding: 24px 32px; background: {c["paper"]}; color: {c["text"]};
       font-family: Lato, "Helvetica Neue", Arial, sans-serif; font-size: 14px; }}
h1 {{ font-size: 22px; font-weight: 600; margin: 0 0 4px; color: {c["text"]}; }}
header p {{ margin: 0 0 18px; opacity: .7; font-size: 12px; }}
.aquarium-figure {{ background: {c["background"]}; border: 1px solid {c["grid"]}; border-radius: 6px;
                    margin: 0 0 22px; padding: 6px; }}
table.aquarium-params {{ border-collapse: collapse; margin: 0 0 22px; background: {c["background"]}; }}
table.aquarium-params caption {{ text-align: left; font-weight: 600; padding: 0 0 6px; }}
table.aquarium-params th, table.aquarium-params td {{ border: 1px solid {c["grid"]}; padding: 4px 10px;
                                                      text-align: left; white-space: pre-wrap; }}
table.aquarium-params thead th {{ background: {c["primary"]}; color: #ffffff; }}
a {{ color: {c["info"]}; }}
"""


def document(figures: Sequence[Any], *, title: str, theme: str = "dark", header_html: str = "") -> str:
    """The page: plotly.js inlined once in ``<head>``, each figure a ``<div>`` drawn by one
    ``Plotly.newPlot`` call, no external resource (no CDN, no MathJax, no fonts)."""
    import plotly.io as pio
    from plotly.offline import get_plotlyjs

    if theme not in THEMES:
        raise ValueError(f"theme {theme!r} must be one of {', '.join(THEMES)}")
    divs = []
    for fig in figures:
        height = fig.layout.height or 450
        div = pio.to_html(fig, include_plotlyjs=False, include_mathjax=False, full_html=False, validate=False,
                          config=CONFIG, default_width="100%", default_height=f"{int(height)}px")
        divs.append(f'<section class="aquarium-figure">{div}</section>')
    safe_title = html.escape(title)
    stamp = html.escape(time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    return "\n".join([
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{safe_title}</title>",
        f"<style>{_css(theme)}</style>",
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head>",
        f'<body class="aquarium-report aquarium-{theme}">',
        f"<header><h1>{safe_title}</h1><p>Aquarium report, written {stamp}; it needs no network.</p></header>",
        header_html,
        *divs,
        "</body>",
        "</html>",
        "",
    ])
