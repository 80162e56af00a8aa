"""Step Functions execution histories: model (model.py), parser (parse.py, one handler per
event family; batches.py reads crawlmap's CrawlBatch payloads), loader (load.py, through the
run folder's reader) and text (text.py, the console's view)."""

from crawlmap.history.load import RunFolder, load_history, load_run
from crawlmap.history.model import (
    STATUS_RANK,
    ExecutionHistory,
    HistoryError,
    HistoryEvent,
    IterationStatus,
    MapIteration,
    MapRun,
    StateVisit,
    TaskInvocation,
    TaskOutcome,
    VisitStatus,
)
from crawlmap.history.parse import json_or_text, parse_history, parse_timestamp
from crawlmap.history.text import cause_message, format_history

__all__ = [
    "STATUS_RANK",
    "ExecutionHistory",
    "HistoryError",
    "HistoryEvent",
    "IterationStatus",
    "MapIteration",
    "MapRun",
    "RunFolder",
    "StateVisit",
    "TaskInvocation",
    "TaskOutcome",
    "VisitStatus",
    "cause_message",
    "format_history",
    "json_or_text",
    "load_history",
    "load_run",
    "parse_history",
    "parse_timestamp",
]
