"""The cost model's figures: what is billable about a run (Usage, FunctionUsage, the state
transitions its history counts) and what it comes to (CostLine, CostBreakdown).

The billing rules are in crawlmap/cost/__init__.py's docstring.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from crawlmap.cost import duration as dm
from crawlmap.history import ExecutionHistory


class CostError(ValueError):
    """The run lacks what a cost estimate needs. The message names the missing field."""


@dataclass(frozen=True)
class TransitionCount:
    """State transitions of the parent execution, counted from its history."""

    states_entered: int  # every *StateEntered event
    retries: int  # extra task attempts made by Retry
    top_level_entered: int  # states entered outside Map iterations
    iteration_entered: int  # states entered inside inline Map iterations

    @property
    def total(self) -> int:
        return self.states_entered + self.retries


def count_state_transitions(history: ExecutionHistory) -> TransitionCount:
    entered = [e for e in history.events if e.type.endswith("StateEntered")]
    top = sum(1 for e in entered if e.iteration is None)
    retries = sum(visit.retries for visit in history.states)
    return TransitionCount(
        states_entered=len(entered),
        retries=retries,
        top_level_entered=top,
        iteration_entered=len(entered) - top,
    )


@dataclass(frozen=True)
class CostLine:
    service: str  # "Step Functions", "Lambda", "DynamoDB", "S3"
    item: str
    quantity: float
    unit: str
    unit_usd: float
    usd: float
    price_key: str


@dataclass(frozen=True)
class FunctionUsage:
    name: str
    memory_mb: int
    architecture: str
    invocations: float
    duration_ms_total: float

    def billed_gb_seconds(self) -> float:
        if self.invocations <= 0:
            return 0.0
        # Lambda rounds each invocation up to the next millisecond.
        per_call = math.ceil(self.duration_ms_total / self.invocations)
        return self.memory_mb / 1024 * per_call * self.invocations / 1000


@dataclass(frozen=True)
class Usage:
    """Everything billable about one run (or a run scaled to another page count)."""

    pages: float
    parent_transitions: float  # from the history
    child_executions: float  # distributed Map child workflow executions started
    child_duration_ms_total: float
    standard_child_transitions: float  # only for STANDARD children (ours are EXPRESS)
    functions: tuple[FunctionUsage, ...]
    ddb_write_units: float
    ddb_read_units: float
    s3_get: float
    s3_put: float


@dataclass(frozen=True)
class NaiveEstimate:
    state_transitions: float
    lambda_requests: float
    lambda_gb_seconds: float
    per_page_ms: float
    lines: tuple[CostLine, ...]
    compute_orchestration_usd: float
    total_usd: float


@dataclass(frozen=True)
class CostBreakdown:
    run_id: str | None
    mode: str
    measured_pages: int
    pages: float  # measured_pages, or the --pages target
    scale: float  # pages / measured_pages
    transitions: TransitionCount  # measured, from the history (not scaled)
    state_transitions: float  # parent history transitions (scaled when pages is scaled)
    billed_state_transitions: float  # + one per distributed child execution started
    usage: Usage
    lines: tuple[CostLine, ...]
    compute_orchestration_usd: float  # Step Functions + Lambda (the cost goal)
    total_usd: float  # + DynamoDB + S3 (data transfer excluded)
    naive: NaiveEstimate
    prices_as_of: str
    region: str
    notes: tuple[str, ...] = field(default=())
    durations: dm.DurationReport | None = None  # the load-independent duration model
    projection: dict[str, Any] | None = None  # --project: what the projection planned

    @property
    def ratio(self) -> float:
        """How many times cheaper than the naive design, on the total."""
        return self.naive.total_usd / self.total_usd if self.total_usd > 0 else math.inf

    @property
    def compute_ratio(self) -> float:
        if self.compute_orchestration_usd <= 0:
            return math.inf
        return self.naive.compute_orchestration_usd / self.compute_orchestration_usd

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd
        return totals

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "region": self.region,
            "prices_as_of": self.prices_as_of,
            "measured_pages": self.measured_pages,
            "pages": _whole(self.pages),
            "scale": self.scale,
            "state_transitions": _whole(self.state_transitions),
            "state_transitions_detail": {
                **asdict(self.transitions),
                "measured_total": self.transitions.total,
            },
            "billed_state_transitions": _whole(self.billed_state_transitions),
            "child_executions": _whole(self.usage.child_executions),
            "lines": [asdict(line) for line in self.lines],
            "by_service_usd": self.by_service(),
            "compute_orchestration_usd": self.compute_orchestration_usd,
            "total_usd": self.total_usd,
            "naive": {
                "state_transitions": self.naive.state_transitions,
                "lambda_requests": self.naive.lambda_requests,
                "lambda_gb_seconds": self.naive.lambda_gb_seconds,
                "per_page_ms": self.naive.per_page_ms,
                "lines": [asdict(line) for line in self.naive.lines],
                "compute_orchestration_usd": self.naive.compute_orchestration_usd,
                "total_usd": self.naive.total_usd,
            },
            "naive_total_usd": self.naive.total_usd,
            "ratio": _finite(self.ratio),
            "compute_ratio": _finite(self.compute_ratio),
            "notes": list(self.notes),
            "durations": None
            if self.durations is None
            else {
                "model": "billed ms = ceil(cpu ms x cpu_scale + network wait ms)",
                "functions": {f.name: f.to_json() for f in self.durations.functions},
                "measured": self.durations.measured,
                "assumed": self.durations.assumed,
            },
            "projection": self.projection,
        }


def _whole(value: float) -> float | int:
    """Counts print as integers when they are whole (scaled counts may not be)."""
    return int(value) if float(value).is_integer() else value


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
