"""Lambda's concurrency limits, applied to the engine's in-process invocations.

On AWS a function's concurrency is the number of its invocations in flight. The account has a
regional limit (1,000 unless raised). A function with reserved concurrency
(ReservedConcurrentExecutions) runs at most that many at once, and its reserve is taken out of
the account's pool; every other function shares what is left (the unreserved concurrency).
A synchronous Invoke, which is how Step Functions calls Lambda, over the limit is not queued:
it fails at once with HTTP 429 TooManyRequestsException ("Rate Exceeded."), Reason
ReservedFunctionConcurrentInvocationLimitExceeded or ConcurrentInvocationLimitExceeded.
Step Functions reports that as the Task's error `Lambda.TooManyRequestsException`, which a
Retry on that name (lambdas/common/retries.py) retries.

The engine raises the same botocore ClientError from moto's Lambda hook
(moto_patches/gaps/lambda_invoke.py), so moto's interpreter turns it into that error name and
cause, as for any Lambda service error.
Not modelled: burst limits and the rate of scaling up, the 10 x concurrency requests-per-second
limit, and Lambda's rule that at least 100 of the account's concurrency stays unreserved.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from crawlmap.engine.errors import EngineError

ACCOUNT_CONCURRENCY = 1000  # AWS's default per-region account limit
RESERVED_LIMIT_EXCEEDED = "ReservedFunctionConcurrentInvocationLimitExceeded"
ACCOUNT_LIMIT_EXCEEDED = "ConcurrentInvocationLimitExceeded"


def too_many_requests(reason: str) -> ClientError:
    """The error Lambda's Invoke raises for a throttled invocation."""
    # The body Lambda sends: {"Reason": ..., "Type": "User", "message": "Rate Exceeded."}.
    response: dict[str, Any] = {
        "Error": {"Code": "TooManyRequestsException", "Message": "Rate Exceeded."},
        "Reason": reason,
        "Type": "User",
        "message": "Rate Exceeded.",
        "ResponseMetadata": {
            "HTTPStatusCode": 429,
            "RequestId": str(uuid.uuid4()),
            "HTTPHeaders": {},
            "RetryAttempts": 0,
        },
    }
    return ClientError(response, "Invoke")  # type: ignore[arg-type]


@dataclass
class FunctionConcurrency:
    """One function's limit and what it used."""

    reserved: int | None  # None: the function draws on the account's unreserved pool
    in_flight: int = 0
    peak: int = 0
    throttles: int = 0


@dataclass
class ConcurrencyLimits:
    """Admits an invocation when its function, and the pool it draws on, have room."""

    account_limit: int = ACCOUNT_CONCURRENCY
    functions: dict[str, FunctionConcurrency] = field(default_factory=dict)
    _aliases: dict[str, str] = field(default_factory=dict)  # name or ARN -> function key
    _unreserved_in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(
        cls,
        reserved: Mapping[str, int | None],
        aliases: Mapping[str, str] | None = None,
        account_limit: int = ACCOUNT_CONCURRENCY,
    ) -> ConcurrencyLimits:
        """`reserved`: each function's ReservedConcurrentExecutions by key (its ARN);
        `aliases`: other names it is invoked by (its function name)."""
        if account_limit < 1:
            raise EngineError(f"account_concurrency must be at least 1, not {account_limit}")
        for key, value in reserved.items():
            if value is not None and value < 0:
                raise EngineError(f"{key}: ReservedConcurrentExecutions cannot be negative")
        total = sum(v for v in reserved.values() if v is not None)
        if total > account_limit:
            raise EngineError(
                f"the functions reserve {total} concurrent executions, more than the account's "
                f"concurrency ({account_limit}): Lambda refuses that configuration"
            )
        limits = cls(
            account_limit=account_limit,
            functions={key: FunctionConcurrency(value) for key, value in reserved.items()},
        )
        limits._aliases.update({key: key for key in reserved})
        limits._aliases.update(aliases or {})
        return limits

    @property
    def unreserved_limit(self) -> int:
        reserved = sum(f.reserved for f in self.functions.values() if f.reserved is not None)
        return self.account_limit - reserved

    def _function(self, name: str) -> FunctionConcurrency:
        key = self._aliases.get(name)
        if key is None and name.startswith("arn:") and name.count(":") == 7:  # qualified ARN
            key = self._aliases.get(name.rsplit(":", 1)[0])
        if key is None:  # not from the template: the adapter reports it; here it is unreserved
            key = name
            self._aliases[name] = name
            self.functions[name] = FunctionConcurrency(None)
        return self.functions[key]

    def acquire(self, name: str) -> str | None:
        """Take a slot for one invocation of `name`; None when admitted, else why not."""
        with self._lock:
            function = self._function(name)
            if function.reserved is not None:
                if function.in_flight >= function.reserved:
                    function.throttles += 1
                    return RESERVED_LIMIT_EXCEEDED
            elif self._unreserved_in_flight >= self.unreserved_limit:
                function.throttles += 1
                return ACCOUNT_LIMIT_EXCEEDED
            else:
                self._unreserved_in_flight += 1
            function.in_flight += 1
            function.peak = max(function.peak, function.in_flight)
            return None

    def release(self, name: str) -> None:
        with self._lock:
            function = self._function(name)
            function.in_flight -= 1
            if function.reserved is None:
                self._unreserved_in_flight -= 1

    @contextmanager
    def slot(self, name: str) -> Iterator[None]:
        """Hold a slot while the block runs; raise Lambda's 429 when there is none."""
        refused = self.acquire(name)
        if refused is not None:
            raise too_many_requests(refused)
        try:
            yield
        finally:
            self.release(name)

    def throttles_of(self, name: str) -> int:
        with self._lock:
            return self._function(name).throttles

    def peak_of(self, name: str) -> int:
        with self._lock:
            return self._function(name).peak
