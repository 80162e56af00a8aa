"""The Lambda Invoke endpoint (`crawlmap serve --lambda-port`), driven with boto3."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from crawlmap.demo import DemoSite
from tests.serve.conftest import Served

pytestmark = pytest.mark.slow


def _lambda(served: Served) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=served.lambda_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def test_the_three_functions_are_listed(served: Served) -> None:
    names = [f["FunctionName"] for f in _lambda(served).list_functions()["Functions"]]
    assert sorted(names) == ["CrawlBatch", "ListPages", "StoreAndNotify"]


def test_list_pages_answers_by_name_and_by_arn(served: Served, site: DemoSite) -> None:
    event = {
        "input": {"pages": [site.url(site.demo_paths()[0])]},
        "execution": "lambda-endpoint-test",
        "started_at": "2026-01-01T00:00:00.000Z",
    }
    for name in ("ListPages", "arn:aws:lambda:us-east-1:123456789012:function:ListPages"):
        response = _lambda(served).invoke(FunctionName=name, Payload=json.dumps(event).encode())
        assert response["StatusCode"] == 200
        assert "FunctionError" not in response
        payload = json.loads(response["Payload"].read())
        assert payload["run"]["page_count"] == 1


def test_a_raised_error_comes_back_as_lambda_reports_it(served: Served) -> None:
    event = {"input": {"pages": []}, "execution": "x", "started_at": "2026-01-01T00:00:00.000Z"}
    response = _lambda(served).invoke(FunctionName="ListPages", Payload=json.dumps(event).encode())
    assert response["FunctionError"] == "Unhandled"
    payload = json.loads(response["Payload"].read())
    assert payload["errorType"] == "InvalidInputError"
    assert "pages" in payload["errorMessage"]


def test_an_unknown_function_is_not_found(served: Served) -> None:
    with pytest.raises(ClientError) as raised:
        _lambda(served).invoke(FunctionName="NoSuchFunction", Payload=b"{}")
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert "ListPages" in raised.value.response["Error"]["Message"]
