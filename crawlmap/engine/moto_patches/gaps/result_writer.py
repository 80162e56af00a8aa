"""Gap 4: ResultWriter's paths and files.

Checked against moto 5.2.5: ResultWriter Parameters paths ("Prefix.$": "$.run.results_prefix")
are evaluated against the children's outputs (an array) instead of the Map state's input, so
any path fails with States.Runtime; the engine evaluates them against the state input, as AWS
does. moto writes only manifest.json, with empty ResultFiles; the engine writes the result
files as AWS does (SUCCEEDED_0.json, FAILED_0.json: JSON arrays of child executions with
ExecutionArn, Input, Output, Status, ...) from the children it recorded (map_run.py), and lists
them in the manifest.
"""

from __future__ import annotations

import json
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import (
    result_writer_decl,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer.resource_eval import (  # noqa: E501
    resource_eval_s3,
)

from crawlmap.engine.moto_patches import active
from crawlmap.engine.moto_patches.speed.s3_clients import s3_client


def _eval_body(self: Any, env: Any) -> None:
    outputs = env.stack.pop()
    env.stack.append(env.states.get_input())  # paths see the Map state's input
    self.parargs.eval(env=env)
    parameters = env.stack.pop()
    env.stack.pop()
    env.stack.append(outputs)
    env.stack.append(parameters)
    self.resource_eval.eval_resource(env=env)


def install() -> None:
    result_writer_decl.ResultWriter._eval_body = _eval_body
    original_put_object = resource_eval_s3.ResourceEvalS3._handle_put_object

    def handle_put_object(env: Any, resource_runtime_part: Any, state_credentials: Any) -> None:
        run = active.current()
        if run is None:
            original_put_object(env, resource_runtime_part, state_credentials)
            return
        parameters = env.stack.pop()
        env.stack.pop()  # the children's outputs: written from the recorded child executions
        s3 = s3_client(resource_runtime_part.region, state_credentials)
        map_run_arn: str = env.map_run_record_pool_manager.get_all()[-1].map_run_arn
        stats = run.map_run(map_run_arn)
        prefix = parameters.get("Prefix", "")
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        bucket = parameters["Bucket"]
        map_run_id = map_run_arn.split(":")[-1]
        express_base = map_run_arn.replace(":mapRun:", ":express:", 1)
        files: dict[str, list[dict[str, Any]]] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        for status in ("SUCCEEDED", "FAILED"):
            entries = [
                c.to_result_entry(f"{express_base}:{c.name}")
                for c in sorted(stats.children, key=lambda c: c.index)
                if (c.status == "SUCCEEDED") == (status == "SUCCEEDED")
            ]
            if not entries:
                continue
            key = f"{prefix}{map_run_id}/{status}_0.json"
            body = json.dumps(entries).encode()
            s3.put_object(Bucket=bucket, Key=key, Body=body)
            files[status].append({"Key": key, "Size": len(body)})
        for child in stats.children:  # written: the engine needs only their status from here
            child.input = child.output = None
        manifest = {"DestinationBucket": bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
        key = f"{prefix}{map_run_id}/manifest.json"
        s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(manifest, indent=2).encode())
        env.stack.append(
            {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}
        )

    resource_eval_s3.ResourceEvalS3._handle_put_object = staticmethod(handle_put_object)
