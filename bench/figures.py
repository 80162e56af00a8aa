"""How the benchmarks report a figure measured over rounds: its min, median and max."""

from __future__ import annotations

import statistics
from collections.abc import Iterable


def spread(values: Iterable[float], digits: int | None = None) -> dict[str, float]:
    """min / median / max of `values`, rounded to `digits` when given."""
    measured = list(values)
    figures = {
        "min": min(measured),
        "median": statistics.median(measured),
        "max": max(measured),
    }
    return figures if digits is None else {k: round(v, digits) for k, v in figures.items()}
