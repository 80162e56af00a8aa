"""Distributed runs laid out in (moto) S3 as ListPages, CrawlBatch and ResultWriter leave them.

runs/<run>/lanes.json (LaneRef), runs/<run>/lanes/<lane>/<i>.json (Batch),
runs/<run>/results/<lane>/<i>.json (BatchResult), and the ResultWriter's manifest + files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lambdas.common.models import PageResult, RunInfo
from tests.lambdas.data_support import REGION, dumps, make_task

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

STARTED = "2026-03-01T10:00:00.000Z"


def lanes_run_info(run_id: str, bucket: str, mode: str = "distributed") -> RunInfo:
    info = RunInfo(
        run_id=run_id,
        started_at=STARTED,
        mode=mode,  # type: ignore[typeddict-item]
        page_count=0,
        batch_count=0,
        duplicates_dropped=0,
        batches_location=None,
        results_prefix=f"runs/{run_id}/results/" if mode == "distributed" else None,
    )
    if mode == "distributed":
        info["lanes_location"] = {"bucket": bucket, "key": f"runs/{run_id}/lanes.json"}
    return info


@dataclass
class DistributedRun:
    """Builds one distributed run's S3 objects; `lanes` maps lane_id -> list of page URL lists."""

    s3: S3Client
    bucket: str
    run_id: str
    lanes: dict[int, list[list[str]]]
    children: list[dict[str, Any]] = field(default_factory=list)

    @property
    def run(self) -> RunInfo:
        return lanes_run_info(self.run_id, self.bucket)

    def write_plan(self) -> None:
        refs = []
        for lane_id, batches in self.lanes.items():
            prefix = f"runs/{self.run_id}/lanes/{lane_id}/"
            refs.append({"lane_id": lane_id, "batch_count": len(batches), "batches_prefix": prefix})
            for index, urls in enumerate(batches):
                batch = {
                    "batch_id": lane_id * 1000 + index,
                    "lane_id": lane_id,
                    "hosts": {},
                    "pages": [make_task(u) for u in urls],
                }
                self.put(f"{prefix}{index}.json", batch)
        self.put(f"runs/{self.run_id}/lanes.json", refs)

    def put(self, key: str, value: Any) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=json.dumps(value, indent=1).encode())

    def write_results(self, lane_id: int, index: int, results: list[PageResult]) -> str:
        key = f"runs/{self.run_id}/results/{lane_id}/{index}.json"
        self.put(key, {"batch_id": lane_id * 1000 + index, "results": results})
        return key

    def child(
        self,
        lane_id: int,
        outputs: list[dict[str, Any]] | None,
        *,
        status: str = "SUCCEEDED",
        error: str | None = None,
        cause: str | None = None,
    ) -> None:
        """One lane's child-execution record for the ResultWriter files."""
        ref = {
            "lane_id": lane_id,
            "batch_count": len(self.lanes[lane_id]),
            "batches_prefix": f"runs/{self.run_id}/lanes/{lane_id}/",
        }
        record: dict[str, Any] = {
            "ExecutionArn": f"arn:aws:states:{REGION}:123456789012:execution:crawl/M:{lane_id}",
            "Input": dumps(ref),
            "InputDetails": {"Included": True},
            "Name": str(lane_id),
            "Status": status,
        }
        if outputs is not None:
            record["Output"] = dumps(outputs)
        if error is not None:
            record["Error"] = error
        if cause is not None:
            record["Cause"] = cause
        self.children.append(record)

    def write_result_writer(self) -> dict[str, str]:
        """The ResultWriter's files under the results prefix; returns its manifest location."""
        prefix = f"runs/{self.run_id}/results"
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status in files:
            records = [c for c in self.children if c["Status"] == status]
            if records:
                key = f"{prefix}/map-run-1/{status}_0.json"
                self.put(key, records)
                files[status].append({"Key": key, "Size": 1})
        manifest_key = f"{prefix}/map-run-1/manifest.json"
        self.put(manifest_key, {"DestinationBucket": self.bucket, "ResultFiles": files})
        return {"Bucket": self.bucket, "Key": manifest_key}


def batch_output(lane_id: int, index: int, pages: int) -> dict[str, Any]:
    """What CrawlBatchDistributed returns (its results went to S3)."""
    key = f"runs/r/results/{lane_id}/{index}.json"
    return {"batch_id": index, "lane_id": lane_id, "results_key": key, "pages": pages}


def caught_output(lane_id: int, index: int, error: str, cause: str) -> dict[str, Any]:
    """What RecordFailureDistributed returns."""
    return {"lane_id": lane_id, "batch_index": index, "failure": {"error": error, "cause": cause}}
