"""What a command's failure prints and exits with: 2 bad input (UsageError, ConfigError), 1 a
failed execution or an internal error (one line; the traceback with CRAWLMAP_DEBUG=1), 130 an
interrupt; each is one line on stderr, `crawlmap COMMAND: ...`."""

from __future__ import annotations

import argparse
import os
import sys

from crawlmap.engine.errors import EngineError
from lambdas.common.errors import ConfigError

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what shells report after Ctrl-C
DEBUG_ENV = "CRAWLMAP_DEBUG"  # set: an internal error shows its traceback


class UsageError(Exception):
    """Bad command-line input: printed as one line, exit code 2."""


def run_command(args: argparse.Namespace) -> int:
    """Run the parsed command; what it raises becomes one line on stderr and an exit code."""
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"crawlmap {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except ConfigError as exc:
        print(f"crawlmap {args.command}: configuration error: {exc}", file=sys.stderr)
        return 2
    except EngineError as exc:
        print(f"crawlmap {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"crawlmap {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # stdout's reader went away (`crawlmap history RUN | head`): nothing left to say.
        # Point stdout at /dev/null so the interpreter's final flush does not complain.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:  # a bug, not the input: still one line (the traceback on demand)
        if os.environ.get(DEBUG_ENV):
            raise
        print(
            f"crawlmap {args.command}: internal error: {type(exc).__name__}: {exc} "
            f"(set {DEBUG_ENV}=1 for the traceback)",
            file=sys.stderr,
        )
        return 1
    return code
