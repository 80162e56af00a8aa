"""The price list (prices.json, us-east-1 list prices with their sources) and a Usage priced
with it: its cost lines.

The billing rules are in crawlmap/cost/__init__.py's docstring.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources

from crawlmap.cost.usage import CostLine, FunctionUsage, Usage

EXPRESS_MEMORY_CHUNK_MB = 64
EXPRESS_DURATION_STEP_MS = 100


@dataclass(frozen=True)
class Price:
    key: str
    usd: float
    unit: str
    quoted: str
    source: str
    as_of: str


@dataclass(frozen=True)
class PriceList:
    region: str
    as_of: str
    prices: Mapping[str, Price]

    def __getitem__(self, key: str) -> Price:
        return self.prices[key]


@cache
def load_prices() -> PriceList:
    text = resources.files("crawlmap.cost").joinpath("prices.json").read_text(encoding="utf-8")
    doc = json.loads(text)
    prices = {
        key: Price(
            key=key,
            usd=float(item["usd"]),
            unit=item["unit"],
            quoted=item["quoted"],
            source=item["source"],
            as_of=item["as_of"],
        )
        for key, item in doc["prices"].items()
    }
    return PriceList(region=doc["region"], as_of=doc["as_of"], prices=prices)


def cost_line(
    prices: PriceList, service: str, item: str, quantity: float, price_key: str
) -> CostLine:
    price = prices[price_key]
    return CostLine(
        service=service,
        item=item,
        quantity=quantity,
        unit=price.unit,
        unit_usd=price.usd,
        usd=quantity * price.usd,
        price_key=price_key,
    )


def lambda_lines(prices: PriceList, functions: tuple[FunctionUsage, ...]) -> list[CostLine]:
    lines: list[CostLine] = []
    for f in functions:
        lines.append(
            cost_line(prices, "Lambda", f"{f.name} requests", f.invocations, "lambda_request")
        )
        lines.append(
            cost_line(
                prices,
                "Lambda",
                f"{f.name} GB-seconds ({f.memory_mb} MB {f.architecture})",
                f.billed_gb_seconds(),
                f"lambda_gb_second_{f.architecture}",
            )
        )
    return lines


def dynamodb_lines(prices: PriceList, usage: Usage) -> list[CostLine]:
    return [
        cost_line(
            prices,
            "DynamoDB",
            "write request units",
            usage.ddb_write_units,
            "dynamodb_write_request_unit",
        ),
        cost_line(
            prices,
            "DynamoDB",
            "read request units",
            usage.ddb_read_units,
            "dynamodb_read_request_unit",
        ),
    ]


def price_usage(prices: PriceList, usage: Usage) -> list[CostLine]:
    lines = [
        cost_line(
            prices,
            "Step Functions",
            "Standard state transitions (parent execution)",
            usage.parent_transitions,
            "stepfunctions_standard_transition",
        )
    ]
    if usage.child_executions:
        lines.append(
            cost_line(
                prices,
                "Step Functions",
                "Standard transitions: Distributed Map child executions started",
                usage.child_executions,
                "stepfunctions_standard_transition",
            )
        )
    if usage.standard_child_transitions:
        lines.append(
            cost_line(
                prices,
                "Step Functions",
                "Standard transitions inside STANDARD child executions",
                usage.standard_child_transitions,
                "stepfunctions_standard_transition",
            )
        )
    elif usage.child_executions:
        lines.append(
            cost_line(
                prices,
                "Step Functions",
                "Express requests (child executions)",
                usage.child_executions,
                "stepfunctions_express_request",
            )
        )
        average_ms = usage.child_duration_ms_total / usage.child_executions
        billed_ms = math.ceil(average_ms / EXPRESS_DURATION_STEP_MS) * EXPRESS_DURATION_STEP_MS
        gb_seconds = usage.child_executions * billed_ms / 1000 * EXPRESS_MEMORY_CHUNK_MB / 1024
        lines.append(
            cost_line(
                prices,
                "Step Functions",
                f"Express duration ({EXPRESS_MEMORY_CHUNK_MB} MB, {billed_ms} ms per child)",
                gb_seconds,
                "stepfunctions_express_gb_second",
            )
        )
    lines.extend(lambda_lines(prices, usage.functions))
    lines.extend(dynamodb_lines(prices, usage))
    lines.append(cost_line(prices, "S3", "PUT/LIST requests", usage.s3_put, "s3_put_request"))
    lines.append(cost_line(prices, "S3", "GET requests", usage.s3_get, "s3_get_request"))
    return lines


def compute_orchestration_usd(lines: list[CostLine]) -> float:
    """What the lines cost in Step Functions and Lambda (the issue's cost goal)."""
    return sum(line.usd for line in lines if line.service in ("Step Functions", "Lambda"))
