"""Step Functions Local's MockConfigFile, read into the mock test cases moto's interpreter runs.

The format is AWS's (Step Functions Local, "Configuration file for mocked service
integrations"):

    {"StateMachines": {"<state machine name>": {"TestCases": {"<test case>": {
         "<state name>": "<mocked response name>", ...}}}},
     "MockedResponses": {"<mocked response name>": {
         "0": {"Return": <the task's result>},             # the first attempt
         "1-2": {"Throw": {"Error": "...", "Cause": "..."}}  # its first and second retries
     }}}

Responses are numbered by attempt ($$.State.RetryCount: 0 is the first try, each Retry the
next), consecutively from 0; "1-2" is a range. A state not named in the test case runs for
real. moto ships LocalStack's mock classes and the interpreter honours them
(Environment.mock_test_case) but nothing loads a file; this module does, and checks it whole
first so a mistake is one message naming where it is.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moto.stepfunctions.parser.mocking.mock_config import (
    MockedResponse,
    MockedResponseReturn,
    MockedResponseThrow,
    MockTestCase,
    StateMockedResponses,
)

MOCK_CONFIG_ENV = "SFN_MOCK_CONFIG"  # the variable Step Functions Local reads the file from


class MockConfigError(ValueError):
    """A MockConfigFile that cannot be used; the message names the field."""


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise MockConfigError(f"{where}: must be a JSON object")
    return value


def _attempts(key: str, where: str) -> tuple[int, int]:
    """'0' -> (0, 0); '1-2' -> (1, 2)."""
    parts = key.strip().split("-")
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        numbers = []
    if len(numbers) not in (1, 2) or any(n < 0 for n in numbers) or numbers[0] > numbers[-1]:
        raise MockConfigError(
            f'{where}: {key!r} is not an attempt number or range (such as "0" or "1-2")'
        )
    return numbers[0], numbers[-1]


def _response(key: str, body: Any, where: str) -> MockedResponse:
    first, last = _attempts(key, where)
    body = _object(body, f"{where}.{key}")
    kinds = [kind for kind in ("Return", "Throw") if kind in body]
    if len(kinds) != 1 or len(body) != 1:
        raise MockConfigError(f"{where}.{key}: must hold exactly one of Return or Throw")
    if kinds == ["Return"]:
        return MockedResponseReturn(range_start=first, range_end=last, payload=body["Return"])
    throw = _object(body["Throw"], f"{where}.{key}.Throw")
    error, cause = throw.get("Error"), throw.get("Cause", "")
    if not isinstance(error, str) or not error:
        raise MockConfigError(f"{where}.{key}.Throw.Error: must be the error name, a string")
    if not isinstance(cause, str):
        raise MockConfigError(f"{where}.{key}.Throw.Cause: must be a string")
    return MockedResponseThrow(range_start=first, range_end=last, error=error, cause=cause)


def _responses(name: str, raw: Any) -> list[MockedResponse]:
    where = f"MockedResponses.{name}"
    entries = _object(raw, where)
    if not entries:
        raise MockConfigError(f'{where}: has no responses (give at least "0")')
    responses = sorted(
        (_response(key, body, where) for key, body in entries.items()),
        key=lambda r: r.range_start,
    )
    expected = 0
    for response in responses:
        if response.range_start != expected:
            raise MockConfigError(
                f"{where}: attempts must be numbered consecutively from 0; "
                f"attempt {expected} is missing"
            )
        expected = response.range_end + 1
    return responses


@dataclass(frozen=True)
class MockConfig:
    """A checked MockConfigFile: every test case of every state machine builds."""

    source: str
    test_cases: Mapping[str, Mapping[str, MockTestCase]]  # state machine -> name -> case

    def test_case(self, state_machine: str, name: str) -> MockTestCase:
        cases = self.test_cases.get(state_machine)
        if cases is None:
            known = ", ".join(sorted(self.test_cases)) or "none"
            raise MockConfigError(
                f"{self.source}: no StateMachines.{state_machine} (it has: {known})"
            )
        case = cases.get(name)
        if case is None:
            known = ", ".join(sorted(cases)) or "none"
            raise MockConfigError(
                f"{self.source}: no test case {name!r} for state machine {state_machine} "
                f"(it has: {known})"
            )
        return case


def parse_mock_config(raw: Any, source: str = "MockConfigFile") -> MockConfig:
    """Check `raw` (the file's JSON) and build every test case in it."""
    top = _object(raw, "MockConfigFile")
    unknown = sorted(set(top) - {"StateMachines", "MockedResponses"})
    if unknown:
        raise MockConfigError(f"{unknown[0]}: unknown field (StateMachines, MockedResponses)")
    machines = _object(top.get("StateMachines", {}), "StateMachines")
    mocked = _object(top.get("MockedResponses", {}), "MockedResponses")
    responses = {name: _responses(name, body) for name, body in mocked.items()}
    built: dict[str, dict[str, MockTestCase]] = {}
    for machine, body in machines.items():
        where = f"StateMachines.{machine}"
        cases = _object(_object(body, where).get("TestCases", {}), f"{where}.TestCases")
        built[machine] = {}
        for case_name, states in cases.items():
            case_where = f"{where}.TestCases.{case_name}"
            per_state = []
            for state, response_name in _object(states, case_where).items():
                if not isinstance(response_name, str) or response_name not in responses:
                    raise MockConfigError(
                        f"{case_where}.{state}: {response_name!r} is not a name in MockedResponses"
                    )
                per_state.append(
                    StateMockedResponses(
                        state_name=state,
                        mocked_response_name=response_name,
                        mocked_responses=responses[response_name],
                    )
                )
            built[machine][case_name] = MockTestCase(
                state_machine_name=machine,
                test_case_name=case_name,
                state_mocked_responses_list=per_state,
            )
    return MockConfig(source=source, test_cases=built)


def load_mock_config(path: str | os.PathLike[str]) -> MockConfig:
    """Read and check a MockConfigFile; MockConfigError names the file and the field."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MockConfigError(f"{path}: cannot read it ({reason})") from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MockConfigError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from None
    try:
        return parse_mock_config(raw, str(path))
    except MockConfigError as exc:
        raise MockConfigError(f"{path}: {exc}") from None
