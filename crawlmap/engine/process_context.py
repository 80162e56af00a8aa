"""The process around a local run: the functions' environment variables, and their output
sent to the run's logs.txt (as Lambda sends it to CloudWatch)."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator, Mapping
from typing import IO, Any


@contextlib.contextmanager
def process_environment(variables: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def function_logs_to(log: IO[str]) -> Iterator[None]:
    """Send what the functions print or log to the run's logs.txt, as Lambda sends it to
    CloudWatch: stdout stays clean for the CLI's --json."""
    previous_stdout = sys.stdout
    loggers = [
        logging.getLogger(),
        *[lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)],
    ]
    swapped: list[tuple[logging.StreamHandler[Any], Any]] = []
    for lg in loggers:
        for handler in lg.handlers:
            if type(handler) is logging.StreamHandler and handler.stream in (
                sys.stdout,
                sys.__stdout__,
            ):
                swapped.append((handler, handler.stream))
                handler.setStream(log)
    # The interpreter logs every caught state error at ERROR, with its whole parse tree: that
    # belongs in the run's log, not on the terminal (the history has the failures).
    moto_logger = logging.getLogger("moto")
    moto_state = (moto_logger.level, moto_logger.propagate)
    moto_handler = logging.StreamHandler(log)
    moto_handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    moto_logger.addHandler(moto_handler)
    # not its "no effect" parse warnings (moto_patches/gaps/tolerated_failures.py)
    moto_logger.setLevel(logging.ERROR)
    moto_logger.propagate = False
    try:
        with contextlib.redirect_stdout(log):
            yield
    finally:
        moto_logger.removeHandler(moto_handler)
        moto_logger.setLevel(moto_state[0])
        moto_logger.propagate = moto_state[1]
        for handler, stream in swapped:
            handler.setStream(stream)
        # Handlers first configured during the run (Powertools configures once per process).
        for known in [logging.getLogger(), *logging.root.manager.loggerDict.values()]:
            if isinstance(known, logging.Logger):
                for handler in known.handlers:
                    if isinstance(handler, logging.StreamHandler) and handler.stream is log:
                        handler.setStream(previous_stdout)
