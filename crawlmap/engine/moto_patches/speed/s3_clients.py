"""Speed 7e: ItemReader and ResultWriter build a new boto3 S3 client each (~3 ms of CPU).

Checked against moto 5.2.5. The engine keeps one per run and region.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.item_reader.eval import (
    resource_eval_s3 as item_reader_s3,
)
from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

from crawlmap.engine.moto_patches import active


def s3_client(region: str, state_credentials: Any) -> Any:
    """The run's S3 client for the ItemReader and ResultWriter (moto builds one per use)."""
    run = active.current()
    if run is None:
        return boto_client_for(service="s3", region=region, state_credentials=state_credentials)
    with run.lock:
        client = run.s3_clients.get(region)
        if client is None:
            client = boto_client_for(
                service="s3", region=region, state_credentials=state_credentials
            )
            run.s3_clients[region] = client
    return client


def install() -> None:
    def get_s3_client(resource_runtime_part: Any, state_credentials: Any) -> Any:
        return s3_client(resource_runtime_part.region, state_credentials)

    item_reader_s3.ResourceEvalS3._get_s3_client = staticmethod(get_s3_client)
