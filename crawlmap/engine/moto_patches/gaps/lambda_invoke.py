"""Gap 9 and the handlers' interception point: Lambda invocations, with Lambda's throttling.

Checked against moto 5.2.5. One interception point, lambda_eval_utils._invoke_lambda_function,
serves both arn:aws:states:::lambda:invoke and bare function ARNs; moto expects the response
of Lambda's Invoke with the Payload already parsed. The handlers run in-process (adapter.py),
not in moto's Lambda.

Lambda never throttles in moto: it has no concurrency limits. The engine applies Lambda's
(throttle.py) here: over a function's reserved or the account's concurrency the hook raises
Lambda's 429 ClientError, which moto's lambda:invoke integration reports as AWS does:
`Lambda.TooManyRequestsException`, "Rate Exceeded. (Service: AWSLambda; Status Code: 429;
Error Code: TooManyRequestsException; Request ID: ...; Proxy: null)". (A Task with a bare
function ARN as its Resource gets moto's "Exception" instead; crawlmap uses lambda:invoke.)
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from crawlmap.engine.moto_patches import active


def install() -> None:
    original = lambda_eval_utils._invoke_lambda_function

    def invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
        run = active.current()
        if run is None:  # plain moto use in this process after an engine run
            return original(parameters, region, state_credentials)
        if run.concurrency is None:
            return run.invoke_lambda(parameters)
        with run.concurrency.slot(str(parameters.get("FunctionName", ""))):
            return run.invoke_lambda(parameters)

    lambda_eval_utils._invoke_lambda_function = invoke
