"""Errors the state machine matches by name.

Lambda reports a raised exception as {"errorType": <class name>, ...}; Step Functions' Retry
and Catch match that class name, so these class names are part of the state machine contract.
"""


class InvalidInputError(Exception):
    """Bad execution input. The message starts with the offending field, e.g. 'pages[3]: ...'."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class TransientCrawlError(Exception):
    """A page failed in a way that may pass on retry (timeout, connection error, 408/429/5xx).

    Raised only for one-page batches, so that the Retry on CrawlBatch shows in the history.
    The message is "<url>: <reason>"; `attempt` (this attempt's number, counting Step
    Functions' retries) is a field, not text: a caught error's count comes from
    lambdas.common.retries.attempts_when_caught.
    """

    def __init__(self, message: str, *, attempt: int = 1) -> None:
        super().__init__(message)
        self.attempt = attempt


class ConfigError(Exception):
    """A configuration value (cdk.json context or environment) is out of range."""

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")
