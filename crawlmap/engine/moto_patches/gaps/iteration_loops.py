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


def _inline_eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
    while True:
        if job is None:
            self._env.close_frame(worker_frame)
            return
        job_frame = worker_frame.open_inner_frame()
        self._eval_job(env=job_frame, job=job)
        worker_frame.close_frame(job_frame)
        if isinstance(job.job_output, Exception) or self.stopped():
            self._env.close_frame(worker_frame)
            self._job_pool.close_job(job)
            return
        next_job = self._job_pool.next_job()
        if next_job is None:
            # the last iteration's events are the source of the states that follow
            worker_frame.event_history_context.source_event_id = (
                job_frame.event_history_context.last_published_event_id
            )
            self._env.close_frame(worker_frame)
            self._job_pool.close_job(job)
            return
        self._job_pool.close_job(job)
        job = next_job


def _distributed_eval_pool(inner_frame: str) -> Any:
    """The distributed workers' loop; they differ only in how a job's frame is opened."""

    def eval_pool(self: Any, job: Any, worker_frame: Any) -> None:
        while True:
            if job is None:
                self._env.delete_frame(worker_frame)
                return
            job_frame = getattr(worker_frame, inner_frame)()
            self._eval_job(env=job_frame, job=job)
            worker_frame.delete_frame(job_frame)
            if isinstance(job.job_output, Exception) or self.stopped():
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            next_job = self._job_pool.next_job()
            if next_job is None:
                self._env.delete_frame(worker_frame)
                self._job_pool.close_job(job)
                return
            self._job_pool.close_job(job)
            job = next_job

    return eval_pool


def install() -> None:
    iteration_worker.IterationWorker._eval_pool = _inline_eval_pool
    distributed_processor.DistributedItemProcessorWorker._eval_pool = _distributed_eval_pool(
        "open_inner_frame"
    )
    distributed_iterator.DistributedIteratorWorker._eval_pool = _distributed_eval_pool("open_frame")
