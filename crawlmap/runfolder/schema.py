"""The run folder's files and meta.json's schema: one place a writer and every reader share.

A run folder is `<home>/runs/<run_id>/` (home: $CRAWLMAP_HOME, or `.crawlmap/` here):

history.json       {"events": [...]} in GetExecutionHistory's format; while a run is going the
                   engine rewrites it with what happened so far (a killed run leaves a partial one)
children/<name>.json  a distributed Map's child executions, one history each (same format)
input.json         the execution input;  output.json  its output (absent when it failed)
meta.json          RunMeta below: who ran it, status, dates, per-function usage, child stats
results.jsonl      one PageResult per page
notification.json  the message StoreAndNotify would publish ({"subject", "message"})
definition.json    the state machine definition (the report draws the whole graph from it)
logs.txt           what the functions logged (Lambda's CloudWatch logs, locally)
"""

from __future__ import annotations

from typing import Literal, NotRequired, TypedDict

from lambdas.common.models import PageResult

HISTORY = "history.json"
CHILDREN = "children"
SPOOL = ".spool"
INPUT = "input.json"
OUTPUT = "output.json"
META = "meta.json"
RESULTS = "results.jsonl"
NOTIFICATION = "notification.json"
NOTIFICATIONS_RAW = "notifications.txt"  # what the local notifier appends to, during the run
DEFINITION = "definition.json"
LOGS = "logs.txt"

Source = Literal["local", "aws"]
ExecutionType = Literal["STANDARD", "EXPRESS"]


class FunctionMeta(TypedDict):
    """One Lambda function's configuration and what the run used of it."""

    memory_mb: int
    architecture: str  # arm64 | x86_64
    invocations: int
    duration_ms_total: float  # wall clock, summed over invocations
    timeout_s: NotRequired[float | None]
    errors: NotRequired[int]
    max_event_bytes: NotRequired[int]
    max_result_bytes: NotRequired[int]
    # CPU time the invocations used (thread CPU time, summed): what this machine's load does
    # not inflate. Absent in runs recorded before it was measured, and for AWS runs.
    cpu_ms_total: NotRequired[float]
    # Lambda's concurrency as the engine applied it (throttle.py): the function's reserved
    # concurrency (None: the account's), invocations throttled, the most in flight at once.
    reserved_concurrency: NotRequired[int | None]
    throttles: NotRequired[int]
    peak_concurrency: NotRequired[int]


class DistributedMeta(TypedDict):
    """A distributed Map's child executions (they run outside the parent's history)."""

    child_executions: int
    child_duration_ms_total: float
    execution_type: ExecutionType
    child_executions_failed: NotRequired[int | None]
    child_executions_aborted: NotRequired[int | None]  # stopped on the failure threshold
    items_not_started: NotRequired[int | None]  # items no child ran (the Map Run failed first)
    child_state_transitions: NotRequired[int | None]  # billed when execution_type is STANDARD
    child_histories: NotRequired[str | None]  # folder (relative to the run folder) of children


class S3Requests(TypedDict):
    get: int
    put: int


class RunMeta(TypedDict):
    """meta.json. `status` is RUNNING from the run's start until the engine writes the end."""

    run_id: str | None
    execution_arn: str | None
    state_machine_arn: str | None
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    start_date: str | None  # ISO 8601, UTC, milliseconds, 'Z'
    stop_date: str | None
    mode: Literal["inline", "distributed"]
    functions: dict[str, FunctionMeta]  # by the state name that calls it: "CrawlBatch"
    distributed: DistributedMeta | None
    source: Source  # who wrote the folder: the local engine or `history --arn`
    notes: list[str]  # what the writer wants a reader to know (gaps filled, assumptions)
    error: NotRequired[str | None]
    cause: NotRequired[str | None]
    store_db: NotRequired[str | None]  # local: the SQLite store the run used (absolute path)
    store_writes: NotRequired[int | None]  # items written to the store (DynamoDB write requests)
    s3_requests: NotRequired[S3Requests]
    history_events: NotRequired[int]
    largest_state_payload_bytes: NotRequired[int]
    state_payload_limit_bytes: NotRequired[int]
    time_scale: NotRequired[float]
    account_concurrency: NotRequired[int]


__all__ = [
    "CHILDREN",
    "DEFINITION",
    "HISTORY",
    "INPUT",
    "LOGS",
    "META",
    "NOTIFICATION",
    "NOTIFICATIONS_RAW",
    "OUTPUT",
    "RESULTS",
    "SPOOL",
    "DistributedMeta",
    "ExecutionType",
    "FunctionMeta",
    "PageResult",
    "RunMeta",
    "S3Requests",
    "Source",
]
