"""The engine's stand-in for copy.deepcopy inside moto's interpreter (gap 7d,
moto_patches/speed/json_copies.py): a JSON tree copy that must behave as a deep copy for every
value the interpreter copies."""

import copy
import datetime
from typing import Any

from crawlmap.engine import moto_patches
from crawlmap.engine.moto_patches import json_copy


def test_json_copy_is_a_deep_copy_of_json_trees() -> None:
    original: dict[str, Any] = {"a": [1, 2.5, {"b": None, "c": True}], "d": "text", "e": {"f": []}}
    copied = json_copy(original)
    assert copied == original
    assert copied is not original
    assert copied["a"] is not original["a"]
    assert copied["a"][2] is not original["a"][2]
    copied["a"][2]["b"] = "changed"
    copied["e"]["f"].append(1)
    assert original == {"a": [1, 2.5, {"b": None, "c": True}], "d": "text", "e": {"f": []}}


def test_json_copy_falls_back_to_deepcopy_for_other_objects() -> None:
    moment = datetime.datetime(2026, 11, 26, tzinfo=datetime.UTC)
    nested: dict[str, Any] = {"when": moment, "set": {1, 2}, "tuple": (1, [2])}
    copied = json_copy(nested)
    assert copied == nested
    assert copied["set"] is not nested["set"]
    assert copied["tuple"][1] is not nested["tuple"][1]  # deepcopy reached inside the tuple


def test_install_routes_moto_deepcopy_through_json_copy() -> None:
    moto_patches.install()
    from moto.stepfunctions.parser.asl.eval import states

    assert states.copy.deepcopy is json_copy
    assert states.copy.copy is copy.copy  # everything else is the real module's
