"""Cost of a recorded run on AWS (and of the naive design), from its history and meta.json."""

from crawlmap.cost.model import (
    CostBreakdown,
    CostError,
    CostLine,
    TransitionCount,
    count_state_transitions,
    estimate_cost,
    estimate_run,
    format_cost,
    format_scaling,
    load_prices,
    project_run,
)

__all__ = [
    "CostBreakdown",
    "CostError",
    "CostLine",
    "TransitionCount",
    "count_state_transitions",
    "estimate_cost",
    "estimate_run",
    "format_cost",
    "format_scaling",
    "load_prices",
    "project_run",
]
