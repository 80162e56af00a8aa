"""Tiny Lambda handlers for engine tests that must not depend on the real crawler."""

from typing import Any


class TinyError(Exception):
    """Raised on request, to see how the engine reports a handler's exception."""


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "function_name": context.function_name}


def fail_if_asked(event: Any, context: Any) -> Any:
    if isinstance(event, dict) and event.get("fail"):
        raise TinyError(f"asked to fail: {event.get('fail')}")
    return event


def nothing(event: Any, context: Any) -> Any:
    return {}


def put_items(event: Any, context: Any) -> Any:
    """Write event["items"] as a JSON array to the test bucket (moto S3, as ListPages does)."""
    import json
    import os

    import boto3

    bucket = os.environ["TINY_BUCKET"]
    boto3.client("s3").put_object(Bucket=bucket, Key="items.json", Body=json.dumps(event["items"]))
    return {"bucket": bucket, "key": "items.json"}


def read_result_writer(event: Any, context: Any) -> Any:
    """Read what the ResultWriter wrote: the manifest and every result file it lists."""
    import json

    import boto3

    s3 = boto3.client("s3")
    location = event["result_writer"]
    manifest = json.loads(
        s3.get_object(Bucket=location["Bucket"], Key=location["Key"])["Body"].read()
    )
    files = {
        entry["Key"]: json.loads(
            s3.get_object(Bucket=manifest["DestinationBucket"], Key=entry["Key"])["Body"].read()
        )
        for status in ("SUCCEEDED", "FAILED", "PENDING")
        for entry in manifest["ResultFiles"][status]
    }
    return {"manifest": manifest, "files": files}


def slow(event: Any, context: Any) -> Any:
    """Sleeps event["seconds"], reporting how much time the context said was left."""
    import time

    before = context.get_remaining_time_in_millis()
    time.sleep(event["seconds"])
    return {"remaining_ms_before": before}


def environment_view(event: Any, context: Any) -> Any:
    """What this invocation's os.environ holds of the names the test asks about."""
    import os

    return {name: os.environ.get(name) for name in event["names"]}


def keyed_log(event: Any, context: Any) -> Any:
    """Appends a log key, lets concurrent invocations append theirs, then logs with it."""
    import time

    from aws_lambda_powertools import Logger

    logger = Logger(service="tiny")
    logger.append_keys(item=event["n"])
    time.sleep(0.05)
    logger.info("logged", extra={"expected_item": event["n"]})
    return event
