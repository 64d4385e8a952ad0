"""Plain SVG charts for the benchmark reports (no plotting library in the environment)."""

from xml.sax.saxutils import escape

_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")


def grouped_bar_chart(
    title: str,
    groups: list[str],
    series: dict[str, list[float]],
    maximum: float = 100.0,
    reference: float | None = None,
) -> str:
    """An SVG grouped bar chart: one group per label, one bar per series, values 0..maximum.

    Args:
        title: printed above the chart.
        groups: the x-axis labels.
        series: name -> one value per group.
        maximum: the top of the y axis.
        reference: a value drawn as a dashed horizontal line (e.g. a published result).
    """
    for name, values in series.items():
        if len(values) != len(groups):
            raise ValueError(f"series {name!r} has {len(values)} values for {len(groups)} groups")
    left, top, plot_height, group_width = 50, 40, 260, 40 + 22 * max(len(series), 1)
    width = left + group_width * len(groups) + 20
    height = top + plot_height + 90 + 18 * len(series)

    def y(value: float) -> float:
        return top + plot_height * (1 - max(0.0, min(value, maximum)) / maximum)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        'font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="{left}" y="20" font-size="14">{escape(title)}</text>',
    ]
    for tick in range(0, 101, 20):
        value = maximum * tick / 100
        parts.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            'stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    for g, group in enumerate(groups):
        x0 = left + g * group_width + 10
        for s, values in enumerate(series.values()):
            value = values[g]
            colour = _COLOURS[s % len(_COLOURS)]
            parts.append(
                f'<rect x="{x0 + 22 * s}" y="{y(value):.1f}" width="20" '
                f'height="{top + plot_height - y(value):.1f}" fill="{colour}"/>'
            )
            parts.append(
                f'<text x="{x0 + 22 * s + 10}" y="{y(value) - 3:.1f}" text-anchor="middle" '
                f'font-size="8">{value:.0f}</text>'
            )
        parts.append(
            f'<text x="{x0}" y="{top + plot_height + 14}" '
            f'transform="rotate(30 {x0} {top + plot_height + 14})">{escape(group)}</text>'
        )
    if reference is not None:
        parts.append(
            f'<line x1="{left}" x2="{width - 20}" y1="{y(reference):.1f}" '
            f'y2="{y(reference):.1f}" stroke="black" stroke-dasharray="4 3"/>'
        )
        parts.append(
            f'<text x="{width - 22}" y="{y(reference) - 4:.1f}" text-anchor="end">'
            f"reference {reference:g}</text>"
        )
    legend_top = top + plot_height + 80
    for s, name in enumerate(series):
        colour = _COLOURS[s % len(_COLOURS)]
        parts.append(
            f'<rect x="{left}" y="{legend_top + 18 * s}" width="12" height="12" fill="{colour}"/>'
        )
        parts.append(f'<text x="{left + 18}" y="{legend_top + 18 * s + 10}">{escape(name)}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
