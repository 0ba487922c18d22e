"""What every visualizer plugin means by a chart: names, options, themes (one place for each)."""

from __future__ import annotations

from typing import Any

import attrs

from .series import parse_smoothing

#: Every chart a visualizer draws.
CHARTS = ("curves", "smoothed", "distribution", "correlation", "heatmap", "parallel_coordinates", "scatter",
          "summary_table")
#: Values of ``ChartOptions.x`` besides another metric's key.
X_AXES = ("step", "wall_time", "relative_time")
BANDS = ("minmax", "std")
ACROSS = ("runs", "final")

#: The original Aquarium colours; ``dark`` is the default theme.
THEMES: dict[str, dict[str, Any]] = {
    "dark": {
        "background": "#2b3e50", "paper": "#1a252f", "text": "#ebebeb", "grid": "#3d5368",
        "primary": "#375a7f", "success": "#5cb85c", "warning": "#f0ad4e", "danger": "#d9534f", "info": "#5bc0de",
        "palette": ["#5bc0de", "#f0ad4e", "#5cb85c", "#d9534f", "#9b8ae6", "#e6d35c", "#e68ac4", "#8ae6c9",
                    "#c9c9c9", "#4d8fd1"],
    },
    "light": {
        "background": "#ffffff", "paper": "#f5f7fa", "text": "#1a252f", "grid": "#dde3ea",
        "primary": "#375a7f", "success": "#3d8b3d", "warning": "#c77c11", "danger": "#b52b27", "info": "#1f8ba8",
        "palette": ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                    "#bcbd22", "#17becf"],
    },
}


def _one_of(choices: tuple[str, ...]) -> Any:
    def check(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
        if value is not None and value not in choices:
            raise ValueError(f"chart option {attribute.name}={value!r} must be one of {', '.join(choices)}")
    return check


def _smoothing(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None:
        parse_smoothing(value)  # raises ValueError naming the bad spec


def _positive(instance: Any, attribute: attrs.Attribute, value: Any) -> None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 2):
        raise ValueError(f"chart option {attribute.name}={value!r} must be an int >= 2")


def _metrics(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(value)


@attrs.frozen(kw_only=True)
class ChartOptions:
    """Options every chart of every visualizer understands the same way.

    - ``metrics``: which metrics (default: all the comparison has);
    - ``x``: ``"step"``, ``"wall_time"``, ``"relative_time"`` or another metric's key;
    - ``log_y``: a logarithmic y axis;
    - ``band``: groups drawn as a mean line with a ``"minmax"`` or ``"std"`` band; ``None``
      draws every run of a group on its own;
    - ``smoothing``: ``"ema:0.6"``, ``"twema:0.6"`` or ``"ma:10"`` (computed on the full
      series before any downsampling; ``smoothed`` keeps the raw line faint underneath);
    - ``max_points``: at most this many points per series reach the browser (min/max
      downsampling keeps every spike);
    - ``theme``: ``"dark"`` (the original Aquarium colours) or ``"light"``;
    - ``height``: figure height in pixels (default: the plugin's);
    - ``param``: the param on the x axis of ``scatter`` (default: the first numeric param
      that differs), and the metric of ``parallel_coordinates``/``scatter`` is the first of
      ``metrics``;
    - ``across``: ``distribution`` of every value per run (``"runs"``) or of the final
      values across runs (``"final"``);
    - ``run``: ``correlation`` of metrics against each other within this run (by id)
      instead of params and final metrics across runs.
    """

    metrics: tuple[str, ...] | None = attrs.field(default=None, converter=_metrics)
    x: str = "step"
    log_y: bool = False
    band: str | None = attrs.field(default="minmax", validator=_one_of(BANDS))
    smoothing: str | None = attrs.field(default=None, validator=_smoothing)
    max_points: int = attrs.field(default=2000, validator=_positive)
    theme: str = attrs.field(default="dark", validator=_one_of(tuple(THEMES)))
    height: int | None = attrs.field(default=None, validator=_positive)
    param: str | None = None
    across: str = attrs.field(default="runs", validator=_one_of(ACROSS))
    run: str | None = None

    @classmethod
    def of(cls, **options: Any) -> ChartOptions:
        """Options from keyword arguments; an unknown one raises ``TypeError`` naming it."""
        known = {f.name for f in attrs.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown chart option {unknown[0]!r}; known: {', '.join(sorted(known))}")
        return cls(**options)

    @property
    def colors(self) -> dict[str, Any]:
        return THEMES[self.theme]


def check_chart(chart: str) -> str:
    """``chart`` if it is one of :data:`CHARTS`, else ``ValueError`` listing them."""
    if chart not in CHARTS:
        raise ValueError(f"unknown chart {chart!r}; charts: {', '.join(CHARTS)}")
    return chart


def n_runs(n: int) -> str:
    """``1 run``, ``2 runs``: how chart titles count runs."""
    return f"{n:,} run" if n == 1 else f"{n:,} runs"


def banded_groups(comparison: Any, metric: str, options: ChartOptions, smoothing: str | None = None) -> dict[str, Any]:
    """The groups a curve chart draws as a mean and band instead of their runs' lines, as
    ``{name: GroupAggregate}``: with ``options.band`` on and ``x="step"`` (seeds align by
    step), the comparison's ``shared_groups``. A group of one is drawn as its run, under the
    run's name ("mean of 1" would say nothing)."""
    if options.band is None or options.x != "step":
        return {}
    return comparison.shared_groups(metric, smoothing=smoothing)


def entity_colors(comparison: Any, options: ChartOptions) -> dict[str, str]:
    """One palette colour per drawn entity, in the comparison's order and the same in every
    subplot and redraw of every backend: a group shares one colour when bands are on, else each
    run has its own. Keys: run ids and ``group:<name>``."""
    palette = options.colors["palette"]
    out: dict[str, str] = {}
    for run in comparison.runs:
        key = f"group:{run.group}" if options.band and run.group is not None else run.id
        if key not in out:
            out[key] = palette[len(out) % len(palette)]
        out[run.id] = out[key]
    return out
