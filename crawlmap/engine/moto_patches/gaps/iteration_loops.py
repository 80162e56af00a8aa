"""Gap 11: a Map worker that runs about 950 iterations one after another fails.

Checked against moto 5.2.5: each Map worker takes its next job by calling itself
(IterationWorker._eval_pool, and its twins in the distributed item processor and iterator
workers), one stack frame per iteration, so the worker of an inline Map at MaxConcurrency 1
over 1,000 items (crawlmap's lanes: up to 1,000 batches in a row) hits Python's recursion
limit and the Map fails with States.Runtime "maximum recursion depth exceeded". AWS runs
them all. The engine runs the same steps in a loop: the frames opened and closed, the jobs
closed and the events' source ids are moto's.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    iteration_worker,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.itemprocessor import (
    distributed_item_processor_worker as distributed_processor,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.iterator import (
    distributed_iterator_worker as distributed_iterator,
)


def _eval_pool_loop(open_job_frame: str, close_frame: str, inline: bool) -> Any:
    """moto's _eval_pool as a loop. The three workers differ in how a job's frame is opened
    and a frame closed, and the inline one makes its last iteration's events the source of
    the states that follow."""

    def eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        def finish(last: Any) -> None:
            getattr(self._env, close_frame)(worker_frame)
            if last is not None:
                self._job_pool.close_job(last)

        while True:
            if job is None:
                finish(None)
                return
            job_frame = getattr(worker_frame, open_job_frame)()
            self._eval_job(env=job_frame, job=job)
            getattr(worker_frame, close_frame)(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                finish(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                if inline:
                    worker_frame.event_history_context.source_event_id = (
                        job_frame.event_history_context.last_published_event_id
                    )
                finish(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    return eval_pool


def install() -> None:
    iteration_worker.IterationWorker._eval_pool = _eval_pool_loop(
        "open_inner_frame", "close_frame", inline=True
    )
    distributed_processor.DistributedItemProcessorWorker._eval_pool = _eval_pool_loop(
        "open_inner_frame", "delete_frame", inline=False
    )
    distributed_iterator.DistributedIteratorWorker._eval_pool = _eval_pool_loop(
        "open_frame", "delete_frame", inline=False
    )
