"""The server-side charts: one bar per scored unit, lines broken where a month has no
score, and a PNG rendering of the same drawing."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from web import charts

SVG = "{http://www.w3.org/2000/svg}"


def test_a_bar_per_scored_unit_with_its_value() -> None:
    """Bars carry their unit and score; an unscored unit has a label but no bar."""
    svg = charts.bar_chart("2022-12", [("芦淞区", 87.5, "GOOD"), ("荷塘区", None, None)])
    root = ET.fromstring(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("class") == "bar"]
    assert [(b.get("data-label"), b.get("data-value")) for b in bars] == [("芦淞区", "87.5")]
    assert float(bars[0].get("height", "0")) == pytest.approx(240 * 0.875)
    assert "荷塘区" in svg


def test_a_line_breaks_where_a_value_is_missing() -> None:
    """A series with a gap is drawn as two polylines, neither crossing the gap."""
    svg = charts.line_chart("trend", ["01", "02", "03", "04"], [("区", [90, 80, None, 70])])
    lines = [p.get("points", "") for p in ET.fromstring(svg).iter(f"{SVG}polyline")]
    assert len(lines) == 2
    assert len(lines[0].split()) == 2


def test_text_is_escaped() -> None:
    """A unit name with markup characters stays text and the SVG stays well-formed."""
    ET.fromstring(charts.bar_chart("<b>&", [("a<b", 50.0, "PASS")]))


def test_the_png_is_the_svg_rendered() -> None:
    """to_png gives a PNG twice the SVG's size."""
    svg = charts.bar_chart("2022-12", [("芦淞区", 87.5, "GOOD")])
    png = charts.to_png(svg)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    width = int.from_bytes(png[16:20], "big")
    declared = re.search(r'width="(\d+)"', svg)
    assert declared is not None
    assert width == 2 * int(declared.group(1))
