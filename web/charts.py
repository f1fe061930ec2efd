"""Charts drawn on the server as SVG, and rasterised to PNG for the circular.

SVG written here rather than by a charting library: two chart shapes (bars, lines) in a
few dozen lines, no JavaScript, nothing fetched, and the page's tests can count the bars.
The PNG is the same SVG rendered by CairoSVG, so the file attached to a circular and the
page show one drawing. CairoSVG draws text in the first font family named, without
fallback, so the PNG names the first Chinese font fontconfig knows.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from html import escape

from streams.errors import ConfigurationError

# Browsers fall back along this list; CairoSVG takes the first entry (see to_png).
FONTS = "WenQuanYi Micro Hei, Noto Sans CJK SC, Source Han Sans SC, Microsoft YaHei, sans-serif"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")
GRADE_COLOURS = {"EXCELLENT": "#2ca02c", "GOOD": "#1f77b4", "PASS": "#ff7f0e", "FAIL": "#d62728"}


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="{FONTS}" font-size="13" '
            f'role="img" aria-label="{escape(title)}">',
            f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
            f'<text x="{width / 2:g}" y="22" text-anchor="middle" font-size="16">'
            f"{escape(title)}</text>",
            *body,
            "</svg>",
        ]
    )


def bar_chart(
    title: str, bars: Sequence[tuple[str, float | None, str | None]], maximum: float = 100.0
) -> str:
    """Vertical bars of (label, value, grade); a None value is drawn as a dash, no bar."""
    slot, top, plot = 96, 40, 240
    width = max(360, 60 + slot * len(bars))
    body = [f'<line x1="50" y1="{top + plot}" x2="{width - 10}" y2="{top + plot}" stroke="#333"/>']
    for tick in range(0, 101, 20):
        y = top + plot - plot * tick / 100
        body.append(
            f'<text x="44" y="{y + 4:g}" text-anchor="end" fill="#555">'
            f"{maximum * tick / 100:g}</text>"
            f'<line x1="50" y1="{y:g}" x2="{width - 10}" y2="{y:g}" stroke="#eee"/>'
        )
    for index, (label, value, grade) in enumerate(bars):
        x = 60 + slot * index
        middle = x + slot / 2 - 8
        if value is None:
            body.append(f'<text x="{middle:g}" y="{top + plot - 6}" text-anchor="middle">—</text>')
        else:
            height = plot * min(value, maximum) / maximum
            colour = GRADE_COLOURS.get(grade or "", PALETTE[0])
            body.append(
                f'<rect class="bar" data-label="{escape(label)}" data-value="{value:g}" '
                f'x="{x + 8}" y="{top + plot - height:g}" width="{slot - 32}" '
                f'height="{height:g}" fill="{colour}"/>'
                f'<text x="{middle:g}" y="{top + plot - height - 5:g}" text-anchor="middle">'
                f"{value:.2f}</text>"
            )
        body.append(
            f'<text x="{middle:g}" y="{top + plot + 20}" text-anchor="middle">'
            f"{escape(label)}</text>"
        )
    return _svg(width, top + plot + 40, title, body)


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    maximum: float | None = None,
) -> str:
    """One polyline per series over the labels; a None breaks the line."""
    left, top, plot_w, plot_h = 60, 40, min(900, max(360, 56 * len(labels))), 220
    values = [v for _, points in series for v in points if v is not None]
    ceiling = maximum if maximum is not None else max([1.0, *values])
    step = plot_w / max(len(labels) - 1, 1)
    body = [
        f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
        'stroke="#333"/>'
    ]
    for tick in range(0, 101, 25):
        y = top + plot_h - plot_h * tick / 100
        body.append(
            f'<text x="{left - 6}" y="{y + 4:g}" text-anchor="end" fill="#555">'
            f"{ceiling * tick / 100:.4g}</text>"
            f'<line x1="{left}" y1="{y:g}" x2="{left + plot_w}" y2="{y:g}" stroke="#eee"/>'
        )
    every = max(1, len(labels) // 12)
    for index, label in enumerate(labels):
        if index % every == 0:
            body.append(
                f'<text x="{left + step * index:g}" y="{top + plot_h + 18}" '
                f'text-anchor="middle" font-size="11">{escape(label)}</text>'
            )
    for number, (name, points) in enumerate(series):
        colour = PALETTE[number % len(PALETTE)]
        for run in _runs(points):
            coords = " ".join(
                f"{left + step * i:g},{top + plot_h - plot_h * min(v, ceiling) / ceiling:g}"
                for i, v in run
            )
            body.append(
                f'<polyline class="series" data-series="{escape(name)}" points="{coords}" '
                f'fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        if not name:
            continue
        legend_y = top + plot_h + 40 + 18 * number
        body.append(
            f'<rect x="{left}" y="{legend_y - 10}" width="12" height="12" fill="{colour}"/>'
            f'<text x="{left + 18}" y="{legend_y}">{escape(name)}</text>'
        )
    return _svg(left + plot_w + 30, top + plot_h + 50 + 18 * len(series), title, body)


def _runs(points: Sequence[float | None]) -> list[list[tuple[int, float]]]:
    """The unbroken stretches of a series; a lone point is drawn as a tiny segment."""
    runs: list[list[tuple[int, float]]] = [[]]
    for index, value in enumerate(points):
        if value is None:
            runs.append([])
        else:
            runs[-1].append((index, value))
    return [run if len(run) > 1 else [*run, (run[0][0], run[0][1])] for run in runs if run]


def chinese_font() -> str | None:
    """The family of the first font fontconfig knows that covers Chinese."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return None
    listed = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    families = sorted(line.split(",")[0].strip() for line in listed.splitlines() if line.strip())
    return families[0] if families else None


def to_png(svg: str) -> bytes:
    """The SVG rasterised (twice its size, for print), in a Chinese font where one exists."""
    try:
        import cairosvg
    except OSError as e:  # the Python package is there, the cairo library is not
        raise ConfigurationError(
            f"PNG charts need the cairo library: apt-get install libcairo2 ({e})"
        ) from e
    family = chinese_font()
    if family is not None:
        svg = re.sub(r'font-family="[^"]*"', f'font-family="{escape(family)}"', svg, count=1)
    png: bytes = cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=2)
    return png
