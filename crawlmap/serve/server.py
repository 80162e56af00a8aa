"""`crawlmap serve`: the Step Functions API on a loopback port, over the local engine.

moto's server mode answers the API (the same werkzeug app as `moto_server`); moto's mock is
active for the server's whole life, so the handlers' own AWS calls (S3 for distributed runs)
reach the same in-memory services the API shows. At start-up the synthesized state machine
is created under its stack's name, with its definition as synthesized (intrinsics resolved
to the engine's local names), so `describe-state-machine` shows what CloudFormation would
deploy. Executions run through executions.ServeEngine; moto_hooks.py lists what the API does
differently from plain moto.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import boto3
from moto import mock_aws
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from crawlmap.engine import moto_patches
from crawlmap.engine.errors import EngineError
from crawlmap.engine.resources import LocalResources
from crawlmap.engine.runner import EngineOptions, RunRecord
from crawlmap.engine.template import ACCOUNT_ID, REGION, definition_of
from crawlmap.serve import moto_hooks
from crawlmap.serve.executions import ServeEngine
from crawlmap.serve.mock_config import MockConfig

DEFAULT_PORT = 8083  # Step Functions Local's
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/crawlmap-local"


def stack_name() -> str:
    """The CDK stack's name: the state machine is created under it."""
    from stacks.synth import STACK_ID

    return STACK_ID


def check_loopback(host: str) -> str:
    """`host` if it is a loopback address; the server is for this machine only."""
    if host == "localhost":
        return "127.0.0.1"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{host!r} is not an IP address (give 127.0.0.1 or ::1)") from None
    if not address.is_loopback:
        raise ValueError(f"{host} is not a loopback address: serve listens on this machine only")
    return host


@dataclass
class ServeOptions:
    engine: EngineOptions
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT  # 0: any free port
    lambda_port: int | None = None  # the Lambda Invoke endpoint (SAM's is 3001)
    mock_config: MockConfig | None = None
    state_machine_name: str = field(default_factory=stack_name)


class _Listener:
    """A WSGI server bound in the caller's thread (so a taken port is an error here) and served
    from a daemon thread."""

    def __init__(self, host: str, port: int, app: Any, handler: Any = None) -> None:
        self.server: BaseWSGIServer = make_server(
            host, port, app, threaded=True, request_handler=handler
        )
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class StepFunctionsServer:
    """The server, as a context manager: `endpoint`, `state_machine_arn` once entered."""

    def __init__(self, options: ServeOptions, on_finished: Any = None) -> None:
        self.options = options
        self.host = check_loopback(options.host)
        template = options.engine.template
        if template is None:
            raise EngineError("serve needs the synthesized template (EngineOptions.template)")
        self.template = template
        self.engine = ServeEngine(options.engine, on_finished)
        self.state_machine_arn = ""
        self._mock: Any = None
        self._api: _Listener | None = None
        self._lambda: Any = None

    @property
    def endpoint(self) -> str:
        assert self._api is not None, "the server is not started"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._api.port}"

    @property
    def lambda_endpoint(self) -> str | None:
        if self._lambda is None:
            return None
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._lambda.port}"

    @property
    def finished(self) -> list[RunRecord]:
        return self.engine.finished

    def __enter__(self) -> StepFunctionsServer:
        self._mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        self._mock.start()
        try:
            self._start()
        except BaseException:
            self._stop()
            raise
        return self

    def _start(self) -> None:
        # Not a request log per API call, nor the parser's "no effect" notes
        # (moto_patches/gaps/tolerated_failures.py).
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        logging.getLogger("moto.stepfunctions.parser.asl.parse").setLevel(logging.ERROR)
        moto_patches.install()
        moto_hooks.install()
        moto_hooks.register_engine(self.engine, self.options.mock_config)
        resources = LocalResources(self.template)
        s3 = boto3.client("s3", region_name=REGION)
        for bucket in resources.bucket_names():
            s3.create_bucket(Bucket=bucket)
        sfn = boto3.client("stepfunctions", region_name=REGION)
        created = sfn.create_state_machine(
            name=self.options.state_machine_name,
            definition=json.dumps(definition_of(self.template, resources), indent=2),
            roleArn=ROLE_ARN,
            type="STANDARD",
        )
        self.state_machine_arn = created["stateMachineArn"]
        app = DomainDispatcherApplication(create_backend_app)
        self._api = _Listener(self.host, self.options.port, app, MotoRequestHandler)
        if self.options.lambda_port is not None:
            from crawlmap.serve.lambda_endpoint import LambdaEndpoint

            self._lambda = LambdaEndpoint(self.options.engine, self.host, self.options.lambda_port)

    def _stop(self) -> None:
        moto_hooks.register_engine(None, None)
        if self._lambda is not None:
            self._lambda.stop()
            self._lambda = None
        if self._api is not None:
            self._api.stop()
            self._api = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop()
