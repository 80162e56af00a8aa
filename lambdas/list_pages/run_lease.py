"""Overlapping runs: a run started while another run of the same deployment is still crawling
is skipped (docs/CONTRACT.md, "Overlapping runs").

ListPages takes the run lease in the store (one conditional write) before it reads the source;
StoreAndNotify releases it at the end of every run that reached it (a conditional delete: only
the holder's). A lease expires when its run's execution timeout has passed (the execution
cannot be running any more), so a run that never reached StoreAndNotify blocks the next ones
at most that long. A skipped run lists no page: the Maps get zero lanes, StoreAndNotify stores
no page and publishes a notification saying why.
"""

from __future__ import annotations

from lambdas.common.models import ListPagesOutput, RunInfo
from lambdas.common.store import RunLease, parse_instant


def lease_for(run_id: str, started_at: str, timeout_minutes: int) -> RunLease:
    """The lease this run asks for: until its execution times out at the latest."""
    expires = parse_instant(started_at).timestamp() + timeout_minutes * 60
    return RunLease(run_id=run_id, started_at=started_at, expires_at=expires)


def skipped_reason(holder: RunLease) -> str:
    return f"another run ({holder['run_id']}) is still running"


def skipped_output(run_id: str, started_at: str, holder: RunLease) -> ListPagesOutput:
    """What ListPages returns for a run it skips: no lanes, and the reason."""
    info = RunInfo(
        run_id=run_id,
        started_at=started_at,
        mode="inline",
        page_count=0,
        batch_count=0,
        duplicates_dropped=0,
        batches_location=None,
        results_prefix=None,
        lane_count=0,
        lanes_location=None,
        skipped_reason=skipped_reason(holder),
    )
    return ListPagesOutput(run=info, lanes=[])
