"""A Lambda Invoke endpoint for crawlmap's functions (`crawlmap serve --lambda-port 3001`).

What `sam local start-lambda` gives: Lambda's Invoke API (POST
/2015-03-31/functions/<name>/invocations) on a loopback port, so Step Functions Local
(LAMBDA_ENDPOINT), boto3's lambda client or the AWS CLI (`aws lambda invoke --endpoint-url`)
call the template's handlers by name: the state's name (ListPages, CrawlBatch,
StoreAndNotify), the engine's local function name, or an ARN ending in either.

The handlers run in the engine's session (the functions' environment, the SQLite store, a
fresh container), kept open while invocations keep coming and closed after a moment of
quiet, so an execution of `crawlmap serve`'s own API can take its turn (the engine runs one
session at a time). What the functions log goes to `<home>/lambda-endpoint/runs/<id>/logs.txt`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import socket
import threading
import urllib.parse
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from crawlmap.crawl_hooks import CrawlHooks
from crawlmap.engine.adapter import FunctionRuntime
from crawlmap.engine.runner import EngineOptions, PreparedRun, engine_session, prepare_run
from crawlmap.runfolder import new_run_id

INVOKE_PATH = "/2015-03-31/functions/"
IDLE_CLOSE_S = 0.5  # quiet time after which the session is handed back to executions


class UnknownFunctionError(LookupError):
    pass


def function_key(name: str) -> str:
    """'arn:aws:lambda:r:a:function:CrawlBatch:$LATEST' -> 'CrawlBatch'."""
    if name.startswith("arn:"):
        parts = name.split(":")
        name = parts[6] if len(parts) > 6 else name
    return name.split(":", 1)[0]


class LambdaService:
    """Invokes the template's functions in an engine session held open while it is busy."""

    def __init__(self, options: EngineOptions) -> None:
        hooks = options.hooks
        if isinstance(hooks, CrawlHooks):  # the same store as serve's executions
            hooks = dataclasses.replace(hooks, db_path=hooks.database(options.home))
        self.options = dataclasses.replace(
            options, home=options.home / "lambda-endpoint", hooks=hooks, on_invocation=None
        )
        self._open_lock = threading.Lock()
        self._cond = threading.Condition()
        self._users = 0
        self._run: PreparedRun | None = None
        self._stack: contextlib.ExitStack | None = None

    def functions(self) -> list[FunctionRuntime]:
        run = self._acquire()
        try:
            return list(run.runtimes)
        finally:
            self._release()

    def invoke(self, function_name: str, payload: bytes) -> dict[str, Any]:
        """Lambda's Invoke response ({"StatusCode", "Payload", "FunctionError"?})."""
        run = self._acquire()
        try:
            key = function_key(function_name)
            for runtime in run.runtimes:
                if key in (runtime.display_name, runtime.local_name):
                    return run.adapter.invoke({"FunctionName": runtime.arn, "Payload": payload})
            known = ", ".join(sorted(rt.display_name for rt in run.runtimes))
            raise UnknownFunctionError(f"Function not found: {function_name} (known: {known})")
        finally:
            self._release()

    def _acquire(self) -> PreparedRun:
        with self._open_lock:
            with self._cond:
                self._users += 1
                if self._run is not None:
                    return self._run
            try:
                run = prepare_run(dataclasses.replace(self.options, run_id=new_run_id()))
                stack = contextlib.ExitStack()
                stack.enter_context(engine_session(run))  # waits for a running execution
            except BaseException:
                with self._cond:
                    self._users -= 1
                raise
            with self._cond:
                self._run, self._stack = run, stack
            return run

    def _release(self) -> None:
        with self._cond:
            self._users -= 1
            if self._users == 0:
                timer = threading.Timer(IDLE_CLOSE_S, self.close_if_idle)
                timer.daemon = True
                timer.start()

    def close_if_idle(self) -> None:
        with self._open_lock:
            with self._cond:
                if self._users or self._stack is None:
                    return
                stack, self._stack, self._run = self._stack, None, None
            stack.close()


def _handler(service: LambdaService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return  # quiet, as the API server is

        def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _error(self, status: int, error_type: str, message: str) -> None:
            self._send(
                status, {"Type": "User", "message": message}, {"x-amzn-ErrorType": error_type}
            )

        def do_GET(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            if path.rstrip("/") + "/" != INVOKE_PATH:
                self._error(404, "ResourceNotFoundException", f"no such resource: {path}")
                return
            functions = [
                {
                    "FunctionName": rt.display_name,
                    "FunctionArn": rt.arn,
                    "Runtime": "python3.12",
                    "Handler": rt.spec.handler,
                    "MemorySize": rt.spec.memory_mb,
                    "Timeout": int(rt.spec.timeout_s),
                    "Architectures": [rt.spec.architecture],
                }
                for rt in service.functions()
            ]
            self._send(200, {"Functions": functions})

        def do_POST(self) -> None:
            path = urllib.parse.urlsplit(self.path).path
            length = int(self.headers.get("Content-Length") or 0)
            payload = self.rfile.read(length) if length else b"{}"
            if not (path.startswith(INVOKE_PATH) and path.endswith("/invocations")):
                self._error(404, "ResourceNotFoundException", f"no such resource: {path}")
                return
            name = urllib.parse.unquote(path[len(INVOKE_PATH) : -len("/invocations")])
            try:
                json.loads(payload or b"{}")
            except ValueError:
                self._error(
                    400, "InvalidRequestContentException", "Could not parse request body into json"
                )
                return
            invocation_type = self.headers.get("X-Amz-Invocation-Type", "RequestResponse")
            if invocation_type == "DryRun":
                self._send(HTTPStatus.NO_CONTENT, None)
                return
            if invocation_type == "Event":
                threading.Thread(
                    target=self._invoke_quietly, args=(name, payload), daemon=True
                ).start()
                self._send(HTTPStatus.ACCEPTED, None)
                return
            try:
                response = service.invoke(name, payload)
            except UnknownFunctionError as exc:
                self._error(404, "ResourceNotFoundException", str(exc))
                return
            headers = {"X-Amz-Executed-Version": "$LATEST"}
            if "FunctionError" in response:
                headers["X-Amz-Function-Error"] = str(response["FunctionError"])
            self._send(200, response.get("Payload"), headers)

        @staticmethod
        def _invoke_quietly(name: str, payload: bytes) -> None:
            with contextlib.suppress(UnknownFunctionError):
                service.invoke(name, payload)

    return Handler


class _IPv6Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class LambdaEndpoint:
    """The endpoint's HTTP server on `host:port` (0: a free port), served from a thread."""

    def __init__(self, options: EngineOptions, host: str, port: int) -> None:
        self.service = LambdaService(options)
        server_class = _IPv6Server if ":" in host else ThreadingHTTPServer
        self.server = server_class((host, port), _handler(self.service))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
        self.service.close_if_idle()
