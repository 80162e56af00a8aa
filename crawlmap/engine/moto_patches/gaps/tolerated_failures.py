"""Gap 3: ToleratedFailurePercentage / ToleratedFailureCount parse but have no effect.

Checked against moto 5.2.5: a map run never fails, whatever fails inside it. The engine
enforces them as AWS does, as soon as a child ends (map_run.py calls `FailureThreshold`):
when the failed (or timed-out) children exceed ToleratedFailureCount or
ToleratedFailurePercentage of all the items (either, when both are set; with neither, one
failure), no further child starts, the children still running are stopped (ABORTED, after the
state they are in: a Lambda invocation in flight finishes) and the Map Run fails with
States.ExceedToleratedFailureThreshold, "The specified tolerated failure threshold was
exceeded" (MapRunFailed, then the Map state's Catch or the execution's failure).
meta.json's "distributed" counts the failed and aborted children and the items not started.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moto.stepfunctions.parser.api import HistoryEventType, MapRunFailedEventDetails
from moto.stepfunctions.parser.asl.component.common.error_name.failure_event import (
    FailureEvent,
    FailureEventException,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name import (
    StatesErrorName,
)
from moto.stepfunctions.parser.asl.component.common.error_name.states_error_name_type import (
    StatesErrorNameType,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map import (
    state_map,
    tolerated_failure,
)
from moto.stepfunctions.parser.asl.eval.event.event_detail import EventDetails

# AWS's Cause when a Map Run fails on its tolerated failure threshold (a recorded execution's).
EXCEEDED_THRESHOLD_CAUSE = "The specified tolerated failure threshold was exceeded"
_TOLERANCE_GIVEN = "_crawlmap_tolerance_given"


@dataclass(frozen=True)
class FailureThreshold:
    """A distributed Map's ToleratedFailureCount / ToleratedFailurePercentage (None: not set).

    As AWS: the percentage is of all the Map Run's items; with both set the Map Run fails when
    either is exceeded; with neither, one failed (or timed out) child fails it."""

    items: int
    count: int | None
    percentage: float | None

    def exceeded_by(self, failed: int) -> bool:
        if self.count is None and self.percentage is None:
            return failed > 0
        over_count = self.count is not None and failed > self.count
        over_pct = self.percentage is not None and failed * 100.0 > self.percentage * self.items
        return over_count or over_pct


def threshold_of(component: Any, items: int, eval_input: Any) -> FailureThreshold:
    """The threshold of a DistributedIterationComponent's Map Run over `items` items."""
    count_set, percentage_set = getattr(component, _TOLERANCE_GIVEN, (True, True))
    return FailureThreshold(
        items=items,
        count=eval_input.tolerated_failure_count if count_set else None,
        percentage=eval_input.tolerated_failure_percentage if percentage_set else None,
    )


def fail_map_run(env: Any) -> None:
    """Fail the Map Run as AWS does when its threshold was exceeded."""
    error = StatesErrorNameType.StatesExceedToleratedFailureThreshold.to_name()
    raise FailureEventException(
        FailureEvent(
            env=env,
            error_name=StatesErrorName(
                typ=StatesErrorNameType.StatesExceedToleratedFailureThreshold
            ),
            event_type=HistoryEventType.MapRunFailed,
            event_details=EventDetails(
                mapRunFailedEventDetails=MapRunFailedEventDetails(
                    error=error, cause=EXCEEDED_THRESHOLD_CAUSE
                )
            ),
        )
    )


def install() -> None:
    """Remember which tolerance fields the definition gives: moto keeps only their values
    (default 0), and an unset field must not count as a tolerance of 0."""
    original_from_state_props = state_map.StateMap.from_state_props

    def from_state_props(self: Any, state_props: Any) -> None:
        original_from_state_props(self, state_props)
        given = (
            state_props.get(tolerated_failure.ToleratedFailureCountDecl) is not None,
            state_props.get(tolerated_failure.ToleratedFailurePercentageDecl) is not None,
        )
        setattr(self.iteration_component, _TOLERANCE_GIVEN, given)

    state_map.StateMap.from_state_props = from_state_props
