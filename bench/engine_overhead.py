"""Engine overhead per Map iteration: a handler that does nothing, 1,000 items, concurrency 40.

Two paths through moto's Step Functions interpreter, measured in the same process:
- moto's own Lambda service (boto3 -> moto Lambda backend, `use_docker: False`, so the
  function body is not even run: the cheapest that path can be);
- the local engine's interception (the handler runs in-process).
The figure is the execution's duration (moto's start/stop dates) divided by the item count.

Each measurement runs in a fresh process (the engine patches moto process-wide); rounds
alternate the two paths (min/median/max). Both figures are the interpreter's path only.

    .venv/bin/python bench/engine_overhead.py [--items 1000] [--concurrency 40] [--rounds 3]
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import boto3
from figures import spread  # bench/figures.py (this script's folder is on sys.path)
from moto import mock_aws

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/bench"


def nothing(event: Any, context: Any) -> Any:
    """The benchmark's handler: returns at once."""
    return {}


def definition(function_arn: str, concurrency: int) -> dict[str, Any]:
    return {
        "StartAt": "Fan",
        "States": {
            "Fan": {
                "Type": "Map",
                "ItemsPath": "$.items",
                "MaxConcurrency": concurrency,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Nothing",
                    "States": {
                        "Nothing": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::lambda:invoke",
                            "Parameters": {"FunctionName": function_arn, "Payload.$": "$"},
                            "ResultSelector": {"ok.$": "$.StatusCode"},
                            "End": True,
                        }
                    },
                },
                "End": True,
            }
        },
    }


def through_moto_lambda(items: int, concurrency: int) -> float:
    """Seconds for the execution when moto's Lambda service answers the invocations."""
    config: Any = {
        "lambda": {"use_docker": False},
        "stepfunctions": {"execute_state_machine": True},
    }
    with mock_aws(config=config):
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        role = boto3.client("iam", region_name=REGION).create_role(
            RoleName="bench", AssumeRolePolicyDocument=json.dumps(trust)
        )["Role"]["Arn"]
        code = io.BytesIO()
        with zipfile.ZipFile(code, "w") as archive:
            archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
        function = boto3.client("lambda", region_name=REGION).create_function(
            FunctionName="nothing",
            Runtime="python3.13",
            Role=role,
            Handler="handler.handler",
            Code={"ZipFile": code.getvalue()},
        )
        sfn = boto3.client("stepfunctions", region_name=REGION)
        machine = sfn.create_state_machine(
            name="overhead",
            definition=json.dumps(definition(function["FunctionArn"], concurrency)),
            roleArn=ROLE,
        )
        started = sfn.start_execution(
            stateMachineArn=machine["stateMachineArn"],
            input=json.dumps({"items": [{"i": i} for i in range(items)]}),
        )
        while (done := sfn.describe_execution(executionArn=started["executionArn"]))[
            "status"
        ] == "RUNNING":
            time.sleep(0.01)
        assert done["status"] == "SUCCEEDED", done
        return float((done["stopDate"] - done["startDate"]).total_seconds())


def through_engine(items: int, concurrency: int) -> float:
    """Seconds for the execution when the engine runs the handler in-process."""
    from crawlmap.engine.runner import EngineOptions, run_execution

    text = json.dumps(definition("<function>", concurrency))
    head, _, tail = text.partition("<function>")
    parts: list[Any] = [head, {"Fn::GetAtt": ["Nothing", "Arn"]}, tail]
    template = {
        "Resources": {
            "Nothing": {
                "Type": "AWS::Lambda::Function",
                "Properties": {"Handler": "engine_overhead.nothing", "Timeout": 30},
            },
            "Machine": {
                "Type": "AWS::StepFunctions::StateMachine",
                "Properties": {"DefinitionString": {"Fn::Join": ["", parts]}},
            },
        }
    }
    with tempfile.TemporaryDirectory() as home:
        record = run_execution(
            {"items": [{"i": i} for i in range(items)]},
            EngineOptions(home=Path(home), template=template),
        )
    assert record.status == "SUCCEEDED", record.cause
    assert record.meta["functions"]["Nothing"]["invocations"] == items
    start, stop = record.events[0]["timestamp"], record.events[-1]["timestamp"]
    return (datetime.fromisoformat(stop) - datetime.fromisoformat(start)).total_seconds()


def one(path: str, items: int, concurrency: int) -> float:
    """One measurement in a fresh process: the engine patches moto process-wide."""
    done = subprocess.run(
        [sys.executable, __file__, "--one", path, "--items", str(items),
         "--concurrency", str(concurrency)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", choices=("moto", "engine"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        measure = through_moto_lambda if args.one == "moto" else through_engine
        print(measure(args.items, args.concurrency))
        return
    moto_ms: list[float] = []
    engine_ms: list[float] = []
    for _ in range(args.rounds):  # alternating, each in its own process
        moto_ms.append(one("moto", args.items, args.concurrency) * 1000 / args.items)
        engine_ms.append(one("engine", args.items, args.concurrency) * 1000 / args.items)
    figures = {
        "items": args.items,
        "concurrency": args.concurrency,
        "rounds": args.rounds,
        "moto_lambda_service_ms_per_iteration": spread(moto_ms, 2),
        "engine_interception_ms_per_iteration": spread(engine_ms, 2),
        "goal_ms_per_iteration": 2.0,
        "speedup": spread([m / e for m, e in zip(moto_ms, engine_ms, strict=True)], 2),
    }
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
