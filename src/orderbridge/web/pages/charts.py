"""Charts drawn on the server as inline SVG (no JavaScript, nothing fetched): one line per series per day."""

from __future__ import annotations

from dataclasses import dataclass

from orderbridge.book.queries.orders import DailySeries

SERIES_CLASSES = 8  # pages.css colours .series-0 .. .series-7


@dataclass(frozen=True)
class Line:
    name: str
    css: str
    points: str
    total: int


@dataclass(frozen=True)
class Chart:
    """What charts.html draws: the plot box, a polyline per series, axis labels and the zero line."""

    title: str
    width: int
    height: int
    left: int
    bottom: int
    lines: list[Line]
    x_labels: list[tuple[float, str]]
    y_labels: list[tuple[float, str]]
    zero_y: float
    empty: bool
    description: str


def line_chart(title: str, data: DailySeries, *, width: int = 640, height: int = 220) -> Chart:
    left, right, top, bottom = 44, 8, 10, 24
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [value for series in data.series.values() for value in series]
    high = max([*values, 1])
    low = min([*values, 0])
    span = high - low or 1
    count = max(len(data.days) - 1, 1)

    def x(index: int) -> float:
        return round(left + plot_w * index / count, 1)

    def y(value: float) -> float:
        return round(top + plot_h * (high - value) / span, 1)

    lines = [
        Line(
            name,
            f"series-{number % SERIES_CLASSES}",
            " ".join(f"{x(i)},{y(v)}" for i, v in enumerate(series)),
            sum(series),
        )
        for number, (name, series) in enumerate(sorted(data.series.items()))
    ]
    step = max(len(data.days) // 6, 1)
    x_labels = [(x(i), day.strftime("%d %b")) for i, day in enumerate(data.days) if i % step == 0]
    y_labels = [(y(value), f"{value:,}") for value in sorted({low, (low + high) // 2, high})]
    totals = ", ".join(f"{line.name}: {line.total:,}" for line in lines) or "nothing"
    first, last = (data.days[0], data.days[-1]) if data.days else (None, None)
    return Chart(
        title=title,
        width=width,
        height=height,
        left=left,
        bottom=height - bottom,
        lines=lines,
        x_labels=x_labels,
        y_labels=y_labels,
        zero_y=y(0),
        empty=not values or not any(values),
        description=f"{title} from {first} to {last}: {totals}",
    )
