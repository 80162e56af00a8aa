"""moto's Step Functions backend, read directly: an execution's status and its history
without the mocked HTTP layer's cost."""

from __future__ import annotations

import time
from typing import Any

from moto.stepfunctions.responses import get_backend

from crawlmap.engine.template import ACCOUNT_ID, REGION
from crawlmap.runfolder import plain


def wait_for(sfn: Any, execution_arn: str) -> dict[str, Any]:
    # Poll the backend's execution object (an attribute read), not DescribeExecution through
    # the mocked HTTP layer: that cost CPU the Map iterations need (they share the GIL).
    execution = get_backend(ACCOUNT_ID, REGION).describe_execution(execution_arn)
    while execution.status == "RUNNING":
        time.sleep(0.02)
    described: dict[str, Any] = sfn.describe_execution(executionArn=execution_arn)
    return described


def history(execution_arn: str) -> list[dict[str, Any]]:
    """GetExecutionHistory's events, from moto's backend directly: the same data as the API
    gives (moto does not paginate it), without serializing thousands of events through HTTP
    mocking (3.5 s for 8,000 events that way). JSON as the API returns it: enums as their
    values, datetimes as ISO strings."""
    backend = get_backend(ACCOUNT_ID, REGION)
    events = backend.get_execution_history(execution_arn)["events"]
    return [plain(event) for event in events]
