"""What a fetch raises: FetchError and its kinds, each with a short human reason."""

from __future__ import annotations


class FetchError(Exception):
    """A fetch failed; `reason` is short and human ("timeout (read)", "HTTP 404", ...).

    `transient` says whether trying again later may help (timeouts, connection errors,
    408/429/5xx); `status` and `retry_after` are set when the server answered.
    """

    def __init__(
        self,
        reason: str,
        *,
        transient: bool = False,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.transient = transient
        self.status = status
        self.retry_after = retry_after


class HopRefusedError(FetchError):
    """A redirect target the caller's hop_check refused (e.g. robots.txt disallows it)."""

    def __init__(self, reason: str, *, url: str) -> None:
        super().__init__(reason)
        self.url = url


class AddressRefusedError(FetchError):
    """The host resolved to an address the guard refuses (never connected to)."""


class BadResponseError(FetchError):
    """The response broke a rule no retry will fix (a redirect to a malformed URL, more
    Content-Encoding layers than allowed, malformed header bytes): permanent."""


class UnexpectedFetchError(FetchError):
    """Anything else a response made the fetch raise, contained with its type as the reason.

    Permanent (the same response would raise again), except MemoryError (transient: the
    process may have room later)."""
