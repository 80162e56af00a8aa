"""Gaps 1, 2 and 6: what moto's parser refuses, rewritten into what it runs the same way.

Checked against moto 5.2.5:
1. EXPRESS child executions: the parser accepts only ProcessorConfig.ExecutionType "STANDARD"
   (ASLParserException: mismatched input '"EXPRESS"' expecting '"STANDARD"'). They run as
   STANDARD: moto runs distributed children in-process without a history of their own either
   way, so nothing observable changes; the engine still records them as Express children
   (meta.json "distributed").
2. An integer ToleratedFailurePercentage (AWS accepts 0..100) fails to parse ("no viable
   alternative at input"): it is written as a float.
6. ItemBatcher is not supported (ASLParserException); crawlmap does not use it (ListPages makes
   the batches). Not rewritten: the engine reports the parse error as an EngineError.
"""

from __future__ import annotations

from typing import Any


def normalize_definition(definition: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The definition as moto runs it, and one note per rewrite."""
    notes: list[str] = []

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, list):
            return [walk(v, f"{path}[{i}]") for i, v in enumerate(node)]
        if not isinstance(node, dict):
            return node
        out = {k: walk(v, f"{path}.{k}") for k, v in node.items()}
        config = out.get("ProcessorConfig")
        if isinstance(config, dict) and config.get("ExecutionType") == "EXPRESS":
            out["ProcessorConfig"] = {**config, "ExecutionType": "STANDARD"}
            notes.append(f"{path}: EXPRESS child executions run as STANDARD (moto gap)")
        pct = out.get("ToleratedFailurePercentage")
        if isinstance(pct, int) and not isinstance(pct, bool):
            out["ToleratedFailurePercentage"] = float(pct)
            notes.append(f"{path}: integer ToleratedFailurePercentage written as float (moto gap)")
        return out

    return walk(definition, "$"), notes
