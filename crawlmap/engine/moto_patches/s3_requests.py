"""The run's S3 requests, counted for the cost model (not a gap: accounting).

Checked against moto 5.2.5: every boto3 call inside mock_aws goes through BotocoreStubber;
the S3 ones (the handlers', the ItemReader's, the ResultWriter's) are counted as GET or PUT.
"""

from __future__ import annotations

from typing import Any

from moto.core.botocore_stubber import BotocoreStubber

from crawlmap.engine.moto_patches import active


def install() -> None:
    original_call = BotocoreStubber.__call__

    def call(self: BotocoreStubber, event_name: str, request: Any, **kwargs: Any) -> Any:
        run = active.current()
        if run is not None and self.enabled and "s3" in event_name.split(".")[1:2]:
            kind = "put" if request.method in ("PUT", "POST", "DELETE") else "get"
            with run.lock:
                run.s3_requests[kind] += 1
        return original_call(self, event_name, request, **kwargs)

    BotocoreStubber.__call__ = call
