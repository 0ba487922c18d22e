"""One standalone HTML document for any number of bokeh figures.

``bokeh.embed.file_html`` with ``INLINE`` resources: BokehJS (and only the bundles the
figures need, e.g. the tables bundle for a ``DataTable``) is written into the page once,
the figures' JSON sits in one ``<script type="application/json">`` block escaped by bokeh,
and nothing is fetched from a CDN: the file opens offline. The title is escaped here;
``header_html`` comes escaped from the core (``aquarium.report``).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from bokeh.core.templates import get_env
from bokeh.embed import file_html
from bokeh.models import Div
from bokeh.resources import Resources

from aquarium.charts import THEMES

TEMPLATE = get_env().from_string("""\
{% extends base %}
{% block postamble %}<style>{{ page_css }}</style>{% endblock %}
{% block contents %}
{% from macros import embed %}
<main class="aquarium-report">
<h1 class="aquarium-title">{{ title | e }}</h1>
<div class="aquarium-header">{{ header_html }}</div>
{% for doc in docs %}
{{ embed(doc) if doc.elementid }}
{% for root in doc.roots %}
<section class="aquarium-figure">{{ embed(root) }}</section>
{% endfor %}
{% endfor %}
</main>
{% endblock %}
""")


class _SelfContained(Resources):
    """Inline resources without the ``__css__``/``__javascript__`` URLs of every model class the
    process has imported: bokeh adds those whether the document uses the model or not, so a
    process that also imported Panel (the dashboard's "Download report") put a link to Panel's
    Tabulator stylesheet into the report, which then failed to load offline."""

    def _collect_external_resources(self, resource_attr: Any) -> list[str]:
        return []

    def clone(self, *, components: Any = None) -> Resources:  # file_html clones; keep the class
        copy = super().clone(components=components)
        copy.__class__ = _SelfContained
        return copy


INLINE = _SelfContained(mode="inline")


def page_css(theme: str) -> str:
    c = THEMES[theme]
    return f"""
html, body {{ background: {c['paper']}; color: {c['text']}; }}
body {{ font-family: -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }}
.aquarium-report {{ padding: 16px 24px; }}
.aquarium-title {{ font-size: 1.4em; margin: 0 0 12px; color: {c['text']}; }}
.aquarium-header table {{ border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }}
.aquarium-header caption {{ text-align: left; font-weight: bold; padding-bottom: 4px; }}
.aquarium-header th, .aquarium-header td {{ border: 1px solid {c['grid']}; padding: 3px 8px; text-align: left; }}
.aquarium-header thead th {{ background: {c['primary']}; color: #ffffff; }}
.aquarium-header tbody th {{ background: {c['background']}; }}
.aquarium-figure {{ margin: 0 0 20px; }}
"""


def to_html(figures: Sequence[Any], *, title: str, theme: str = "dark", header_html: str = "") -> str:
    if theme not in THEMES:
        raise ValueError(f"theme {theme!r} must be one of {', '.join(THEMES)}")
    models = list(figures)
    if not models:
        models = [Div(text=html.escape("No figures."), styles={"color": THEMES[theme]["text"]})]
    document = file_html(models, resources=INLINE, title=title, template=TEMPLATE,
                         template_variables={"page_css": page_css(theme), "header_html": header_html})
    # BokehJS carries the string literal "</body></html>" (DOMPurify's wrapper); written as
    # "<\/body><\/html>" it is the same JavaScript string, and the page has one </html>.
    return document.replace('"</body></html>"', '"<\\/body><\\/html>"')
