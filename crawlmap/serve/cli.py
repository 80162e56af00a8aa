"""`crawlmap serve`: the command line of the Step Functions Local stand-in (see server.py)."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from typing import Any

from crawlmap.engine.runner import RunRecord
from crawlmap.serve.mock_config import MOCK_CONFIG_ENV, MockConfigError, load_mock_config
from crawlmap.serve.server import (
    DEFAULT_PORT,
    ServeOptions,
    StepFunctionsServer,
    check_loopback,
)
from lambdas.common import env


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be between 0 and 65535, got {value}")
    return value


def add_serve_command(commands: Any) -> None:
    """The `serve` subcommand, with the engine options `run` takes."""
    from crawlmap.cli.arguments import add_engine_arguments

    serve = commands.add_parser(
        "serve",
        help="the Step Functions API on 127.0.0.1 (as Step Functions Local), on the local engine",
        description="Serve the Step Functions API (and optionally Lambda's Invoke API) on a "
        "loopback port, with the synthesized state machine created at start-up. Drive it "
        "with `aws stepfunctions --endpoint-url http://127.0.0.1:8083 ...` or boto3.",
    )
    serve.add_argument("--host", default="127.0.0.1", help="a loopback address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help="API port (default 8083; 0: any free)"
    )
    serve.add_argument(
        "--lambda-port",
        type=_port,
        metavar="PORT",
        help="also serve Lambda's Invoke API for the three functions (SAM uses 3001)",
    )
    serve.add_argument(
        "--mock-config",
        metavar="FILE",
        help=f"a MockConfigFile (Step Functions Local's format; default ${MOCK_CONFIG_ENV}); "
        "start an execution on <stateMachineArn>#<TestCase> to run a test case",
    )
    serve.add_argument("--db", metavar="PATH", help="SQLite store (default .crawlmap/crawlmap.db)")
    serve.add_argument(
        "--allow-private-networks",
        action="store_true",
        help="let the crawler fetch private and loopback addresses (e.g. a site on 127.0.0.1)",
    )
    serve.add_argument(
        "-c",
        "--context",
        action="append",
        metavar="KEY=VALUE",
        help="override a cdk.json key for the served machine, as `cdk synth -c` does (repeatable)",
    )
    add_engine_arguments(serve)
    serve.set_defaults(func=cmd_serve)


def _report(record: RunRecord) -> None:
    reason = f" {record.error}" if record.error else ""
    print(
        f"execution {record.run_id}: {record.status}{reason}  run folder {record.run_dir}",
        file=sys.stderr,
        flush=True,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    from crawlmap.cli.engine_setup import engine_options, run_context
    from crawlmap.cli.exits import UsageError

    try:
        host = check_loopback(args.host)
    except ValueError as exc:
        raise UsageError(f"--host {exc}") from None
    mock_path = args.mock_config or os.environ.get(MOCK_CONFIG_ENV)
    try:
        mock_config = load_mock_config(mock_path) if mock_path else None
    except MockConfigError as exc:
        raise UsageError(f"--mock-config {exc}") from None
    overrides: dict[str, str] = {}
    if args.allow_private_networks:
        overrides[env.ALLOW_PRIVATE_NETWORKS] = "true"
    options = ServeOptions(
        engine=engine_options(args, None, overrides, run_context(args)),
        host=host,
        port=args.port,
        lambda_port=args.lambda_port,
        mock_config=mock_config,
    )
    server = StepFunctionsServer(options, on_finished=_report)
    try:
        server.__enter__()
    except OSError as exc:
        port = args.port if args.lambda_port is None else f"{args.port}/{args.lambda_port}"
        raise UsageError(f"--port {port}: cannot serve there ({exc.strerror})") from None
    # SIGTERM stops it as Ctrl-C does: the servers close and the process ends cleanly.
    signal.signal(signal.SIGTERM, lambda signum, frame: (_ for _ in ()).throw(KeyboardInterrupt))
    try:
        print(f"Step Functions API: {server.endpoint}  (region us-east-1)", flush=True)
        print(f"state machine: {server.state_machine_arn}", flush=True)
        if server.lambda_endpoint:
            print(f"Lambda endpoint: {server.lambda_endpoint}", flush=True)
        if mock_config is not None:
            print(f"mock config: {mock_config.source}", flush=True)
        print(
            f"try: aws stepfunctions --endpoint-url {server.endpoint} start-execution "
            f"--state-machine-arn {server.state_machine_arn} "
            '--input \'{"pages": ["https://example.com/"]}\'',
            file=sys.stderr,
            flush=True,
        )
        threading.Event().wait()
    except KeyboardInterrupt:
        print("crawlmap serve: stopped", file=sys.stderr)
    finally:
        server.__exit__(None, None, None)
    return 0
