"""Small bar charts as inline SVG, built in one pass (no script, no CDN, no style attribute)."""

from __future__ import annotations

from markupsafe import Markup, escape

from appliance.dashboard import bar_chart


def svg_bars(values: list[int], days: list, label: str) -> Markup:
    """One <svg>: a bar per day with a tooltip "date: count". Only numbers and dates go in
    unescaped; the label is escaped."""
    chart = bar_chart(values)
    rects = "".join(
        f'<rect x="{b["x"]}" y="{b["y"]}" width="{b["w"]}" height="{b["h"]}">'
        f"<title>{day.isoformat()}: {int(b['value'])}</title></rect>"
        for b, day in zip(chart["bars"], days, strict=True)
    )
    return Markup(
        f'<svg class="chart" viewBox="0 0 {chart["width"]} {chart["height"]}" role="img"'
        f' aria-label="{escape(label)}">{rects}</svg>'
    )
