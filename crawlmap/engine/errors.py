"""The engine's one error type: a problem a user can fix, printed as one line by the CLI."""


class EngineError(Exception):
    """The local engine cannot run this template or input; the message says why."""
