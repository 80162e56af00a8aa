"""Logging and metrics for the functions: one place, Powertools for AWS Lambda.

Powertools gives structured JSON logs (the run id is appended to every line with
`logger.append_keys(run_id=...)`) and CloudWatch metrics as Embedded Metric Format, which
costs no API calls. Tracing is X-Ray active tracing switched on by the stack; we do not add
Powertools' Tracer because it needs aws-xray-sdk in the bundle for little extra insight here.
Locally the engine sets POWERTOOLS_METRICS_DISABLED so metrics are not printed.
"""

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "crawlmap"

logger = Logger(service="crawlmap")
metrics = Metrics(namespace=NAMESPACE, service="crawlmap")

__all__ = ["NAMESPACE", "MetricUnit", "logger", "metrics"]
