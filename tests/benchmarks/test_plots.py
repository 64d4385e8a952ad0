"""The benchmark reports' SVG charts."""

from xml.etree import ElementTree

import pytest

from benchmarks.plots import grouped_bar_chart

SVG = "{http://www.w3.org/2000/svg}"


def test_one_bar_per_series_and_group_scaled_to_the_axis():
    svg = grouped_bar_chart(
        "accuracy", ["text", "audio"], {"fused": [80.0, 40.0], "text_only": [70.0, 0.0]}
    )
    root = ElementTree.fromstring(svg)
    bars = [r for r in root.iter(f"{SVG}rect") if r.get("width") == "20"]
    assert len(bars) == 4
    heights = sorted(float(bar.get("height")) for bar in bars)
    # 260 px of plot for 0..100: 0, 40, 70 and 80 % high.
    assert heights == pytest.approx([0.0, 104.0, 182.0, 208.0], abs=0.1)
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "fused" in texts and "text_only" in texts and "audio" in texts


def test_reference_line_and_escaped_labels():
    svg = grouped_bar_chart("a < b", ["x&y"], {"m": [50.0]}, reference=93.66)
    root = ElementTree.fromstring(svg)  # well-formed despite < and &
    assert any(t.text == "reference 93.66" for t in root.iter(f"{SVG}text"))
    assert any(line.get("stroke-dasharray") for line in root.iter(f"{SVG}line"))


def test_series_must_have_a_value_per_group():
    with pytest.raises(ValueError, match="2 values for 3 groups"):
        grouped_bar_chart("t", ["a", "b", "c"], {"m": [1.0, 2.0]})
