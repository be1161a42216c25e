"""The usage chart: points per day, stacked by model, as a PNG (matplotlib's Agg backend, no pyplot).

``render_chart`` is CPU work (about a tenth of a second, more on the first call, which imports
matplotlib): callers run it in a worker thread. Labels come translated; the font is Noto Sans CJK SC
shipped by the ``mplfonts`` package, so Chinese labels never render as boxes.
"""

from __future__ import annotations

import functools
import io
import threading
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.font_manager import FontProperties

_CJK_FONT = "NotoSansCJKsc-Regular.otf"
_render_lock = threading.Lock()  # matplotlib's font cache is not thread-safe


@dataclass(frozen=True, slots=True)
class ChartLabels:
    title: str
    x_axis: str
    y_axis: str
    legend: str
    empty: str  # shown on an empty chart


@functools.cache
def _font() -> FontProperties:
    from matplotlib import font_manager

    try:
        path = resources.files("mplfonts") / "fonts" / _CJK_FONT
        with resources.as_file(path) as file:
            font_manager.fontManager.addfont(str(file))
            family = font_manager.FontProperties(fname=str(file)).get_name()
        return font_manager.FontProperties(family=[family, "DejaVu Sans"])
    except (ModuleNotFoundError, FileNotFoundError, RuntimeError):  # no CJK font: Latin labels still render
        return font_manager.FontProperties(family=["DejaVu Sans"])


def render_chart(days: tuple[date, ...], points_by_model: dict[str, tuple[int, ...]], labels: ChartLabels) -> bytes:
    """A stacked bar chart of ``points_by_model`` over ``days`` (PNG bytes)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with _render_lock:
        font = _font()
        figure = Figure(figsize=(10, 5), dpi=100, layout="constrained")
        FigureCanvasAgg(figure)
        axes = figure.add_subplot()
        positions = list(range(len(days)))
        bottom = [0] * len(days)
        for model, points in points_by_model.items():
            axes.bar(positions, points, bottom=bottom, label=model, width=0.8)
            bottom = [b + p for b, p in zip(bottom, points, strict=True)]
        step = max(1, len(days) // 15)
        axes.set_xticks(positions[::step], [d.strftime("%m-%d") for d in days[::step]], fontproperties=font)
        axes.set_xlim(-0.6, len(days) - 0.4)
        axes.set_title(labels.title, fontproperties=font, fontsize=14)
        axes.set_xlabel(labels.x_axis, fontproperties=font)
        axes.set_ylabel(labels.y_axis, fontproperties=font)
        axes.grid(axis="y", alpha=0.3)
        axes.set_axisbelow(True)
        if points_by_model:
            legend = axes.legend(title=labels.legend, prop=font, loc="upper left")
            legend.get_title().set_fontproperties(font)
        else:
            axes.set_ylim(0, 1)
            axes.text(0.5, 0.5, labels.empty, transform=axes.transAxes, ha="center", fontproperties=font)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
