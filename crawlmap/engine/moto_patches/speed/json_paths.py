"""Speed 7a: every JSONPath evaluation parses its path again.

Checked against moto 5.2.5: jsonpath_ng builds a new PLY parser for each parse (~1 ms, about
ten per Map iteration). Parsed paths are immutable and find() is pure, so the engine parses
each distinct path once.
"""

from __future__ import annotations

import functools

from moto.stepfunctions.parser.asl.component.common.path import result_path
from moto.stepfunctions.parser.asl.utils import json_path


def install() -> None:
    json_path.parse = functools.lru_cache(maxsize=4096)(json_path.parse)
    result_path.parse = functools.lru_cache(maxsize=4096)(result_path.parse)
