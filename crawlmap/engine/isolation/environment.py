"""Each invocation sees its own function's environment, as on Lambda.

On Lambda every function runs in its own process, so `os.environ` is that function's
Environment from the template plus the variables Lambda sets (AWS_LAMBDA_FUNCTION_NAME,
AWS_LAMBDA_FUNCTION_MEMORY_SIZE, AWS_REGION, credentials, ...). Locally all handlers run in
threads of one process; while a run is active `os.environ` is replaced by `InvocationEnviron`,
which reads and writes the current invocation's own mapping (a contextvar the adapter sets
around the handler call) and the process's environment outside any invocation. Concurrent
invocations cannot see each other's variables, and a handler that sets a variable changes only
its own invocation's view. (`os.getenv` reads `os.environ`, so it is covered; a module that
bound `from os import environ` at import time, and child processes, see the process's.)
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from collections.abc import Iterator, Mapping, MutableMapping
from typing import Any

_current: contextvars.ContextVar[dict[str, str] | None] = contextvars.ContextVar(
    "crawlmap_invocation_environ", default=None
)

# Taken from the process into every invocation: what Lambda's runtime also provides (a PATH, a
# home, the locale, a temp dir, TLS trust) and the credentials the local AWS mock set.
PASSED_THROUGH = (
    "PATH",
    "HOME",
    "LANG",
    "LC_ALL",
    "TZ",
    "TMPDIR",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
)


class InvocationEnviron(MutableMapping[str, str]):
    """os.environ while a run is active (see the module docstring)."""

    def __init__(self, process: MutableMapping[str, str]) -> None:
        self.process = process

    def _target(self) -> MutableMapping[str, str]:
        own = _current.get()
        return self.process if own is None else own

    def __getitem__(self, key: str) -> str:
        return self._target()[key]

    def __setitem__(self, key: str, value: str) -> None:
        self._target()[key] = value

    def __delitem__(self, key: str) -> None:
        del self._target()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._target()))

    def __len__(self) -> int:
        return len(self._target())

    def __contains__(self, key: object) -> bool:
        return key in self._target()

    def get(self, key: str, default: Any = None) -> Any:
        return self._target().get(key, default)

    def copy(self) -> dict[str, str]:
        return dict(self._target())

    def __repr__(self) -> str:
        return f"InvocationEnviron({dict(self._target())!r})"


def process_variables(names: tuple[str, ...] = PASSED_THROUGH) -> dict[str, str]:
    """The pass-through variables as the process has them now."""
    process = os.environ.process if isinstance(os.environ, InvocationEnviron) else os.environ
    return {name: process[name] for name in names if name in process}


@contextlib.contextmanager
def per_invocation_environ() -> Iterator[None]:
    """Install InvocationEnviron as os.environ for the block (nested use is a no-op)."""
    if isinstance(os.environ, InvocationEnviron):
        yield
        return
    process = os.environ
    os.environ = InvocationEnviron(process)  # type: ignore[assignment]  # noqa: B003 - replaced, not cleared, on purpose
    try:
        yield
    finally:
        os.environ = process  # noqa: B003 - the process mapping back


@contextlib.contextmanager
def invocation_environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Inside the block (this thread and what it hands its context to), os.environ is a copy of
    `variables` and nothing else."""
    token = _current.set(dict(variables))
    try:
        yield
    finally:
        _current.reset(token)
