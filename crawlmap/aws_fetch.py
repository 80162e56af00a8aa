"""`crawlmap history --arn`: fetch a deployed execution from AWS into a run folder.

The AWS client half of `history --arn` (the command itself is in inspect_cli.py): the history
with data, the description, the definition, Lambda configurations and the Map Run, written
through the run folder's one writer with a meta.json of `source: "aws"`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from crawlmap.history import ExecutionHistory, load_run
from crawlmap.runfolder import RunFolderWriter, RunMeta, plain, runs_dir
from crawlmap.runfolder.schema import DistributedMeta, ExecutionType, FunctionMeta


class AwsFetchError(Exception):
    """AWS could not give the execution (or the ARN is not one). The message says why."""


def fetch_execution(
    arn: str,
    *,
    save_dir: Path | None = None,
    sfn_client: Any = None,
    lambda_client: Any = None,
) -> Path:
    """Fetch a deployed execution (history with data, description, definition) into a run folder.

    The folder gets history.json, input.json, output.json, definition.json and a meta.json
    built from what AWS reports: Lambda memory/architecture from GetFunctionConfiguration,
    invocations and durations from the history's task events, child executions from the
    Map Run. Returns the folder.
    """
    try:
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - boto3 is a dependency
        raise AwsFetchError("--arn needs boto3") from None
    parts = arn.split(":")
    if len(parts) < 8 or parts[5] != "execution":
        raise AwsFetchError(f"--arn: not a Step Functions execution ARN: {arn!r}")
    region = parts[3]
    try:
        sfn = sfn_client or boto3.client("stepfunctions", region_name=region)
        described = sfn.describe_execution(executionArn=arn)
        events: list[dict[str, Any]] = []
        paginator = sfn.get_paginator("get_execution_history")
        for page in paginator.paginate(executionArn=arn, includeExecutionData=True):
            events.extend(dict(event) for event in page["events"])
        definition: Any = None
        try:
            machine = sfn.describe_state_machine_for_execution(executionArn=arn)
            definition = json.loads(machine["definition"])
        except (ClientError, KeyError, ValueError):
            definition = None
    except ClientError as exc:
        error = exc.response.get("Error", {})
        raise AwsFetchError(
            f"--arn: AWS refused {error.get('Code', 'the request')}: {error.get('Message', exc)}"
        ) from None
    except BotoCoreError as exc:
        raise AwsFetchError(f"--arn: cannot reach AWS: {exc}") from None

    name = str(described.get("name") or parts[-1])
    folder = save_dir or (runs_dir() / name)
    folder.mkdir(parents=True, exist_ok=True)
    writer = RunFolderWriter(folder)
    writer.write_history(events)
    writer.write_input(json.loads(described.get("input") or "null"))
    if described.get("output"):
        writer.write_output(json.loads(described["output"]))
    if isinstance(definition, dict):
        writer.write_definition(definition)
    history = load_run(folder).history
    writer.write_meta(_meta_from_aws(described, history, sfn, lambda_client, region))
    return folder


def _child_execution_type(definition: Mapping[str, Any] | None, state: str) -> str:
    """EXPRESS or STANDARD, from the Map state's ProcessorConfig (top-level states only)."""
    states = (definition or {}).get("States")
    spec = states.get(state) if isinstance(states, Mapping) else None
    processor = (spec or {}).get("ItemProcessor") if isinstance(spec, Mapping) else None
    config = (processor or {}).get("ProcessorConfig") if isinstance(processor, Mapping) else None
    kind = (config or {}).get("ExecutionType") if isinstance(config, Mapping) else None
    return str(kind or "STANDARD").upper()


def _assumed_function() -> FunctionMeta:
    """A function's meta.json entry before its configuration is read: 1024 MB arm64."""
    return {"memory_mb": 1024, "architecture": "arm64", "invocations": 0, "duration_ms_total": 0.0}


def _meta_from_aws(
    described: Mapping[str, Any],
    history: ExecutionHistory,
    sfn: Any,
    lambda_client: Any,
    region: str,
) -> RunMeta:
    from botocore.exceptions import BotoCoreError, ClientError

    functions: dict[str, FunctionMeta] = {}
    function_names: dict[str, str] = {}
    for task in history.tasks:
        entry = functions.setdefault(task.state, _assumed_function())
        entry["invocations"] += 1
        entry["duration_ms_total"] += task.duration_ms or 0.0
        if task.function:
            function_names[task.state] = task.function
    notes: list[str] = []
    client = lambda_client
    for state, function in function_names.items():
        try:
            if client is None:
                import boto3

                client = boto3.client("lambda", region_name=region)
            config = client.get_function_configuration(FunctionName=function)
            functions[state]["memory_mb"] = int(config.get("MemorySize", 1024))
            functions[state]["architecture"] = (config.get("Architectures") or ["x86_64"])[0]
        except (ClientError, BotoCoreError) as exc:
            notes.append(f"{function}: configuration not readable ({exc}); assumed 1024 MB arm64")
    distributed: DistributedMeta | None = None
    for run in history.maps:
        if run.mode != "distributed" or not run.map_run_arn:
            continue
        try:
            map_run = sfn.describe_map_run(mapRunArn=run.map_run_arn)
            children = int(map_run.get("executionCounts", {}).get("total", 0))
        except (ClientError, BotoCoreError) as exc:
            notes.append(f"Map Run {run.map_run_arn}: not readable ({exc})")
            continue
        total_ms = 0.0
        try:
            for page in sfn.get_paginator("list_executions").paginate(mapRunArn=run.map_run_arn):
                for child in page.get("executions", []):
                    if child.get("startDate") and child.get("stopDate"):
                        delta = child["stopDate"] - child["startDate"]
                        total_ms += delta.total_seconds() * 1000
        except Exception as exc:  # durations are optional: a note, not a failed fetch
            notes.append(f"child executions of {run.map_run_arn} not listed ({exc!r})")
        distributed = {
            "child_executions": children,
            "child_state_transitions": None,
            "child_duration_ms_total": total_ms,
            "execution_type": cast(
                ExecutionType, _child_execution_type(history.definition, run.name)
            ),
        }
        # CrawlBatch runs inside the children: one invocation per child, as long as the child.
        crawl = functions.setdefault("CrawlBatch", _assumed_function())
        crawl["invocations"] += children
        crawl["duration_ms_total"] += total_ms
    return {
        "run_id": described.get("name"),
        "execution_arn": described.get("executionArn"),
        "state_machine_arn": described.get("stateMachineArn"),
        "status": str(described.get("status")),
        "start_date": plain(described.get("startDate")),
        "stop_date": plain(described.get("stopDate")),
        "mode": "distributed" if distributed else "inline",
        "functions": functions,
        "distributed": distributed,
        "store_writes": None,
        "s3_requests": {"get": 0, "put": 0},
        "source": "aws",
        "notes": notes,
    }
