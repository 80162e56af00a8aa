"""Cost of a recorded run on AWS (and of the naive design), from its history and meta.json.

Billing rules (us-east-1 list prices in prices.json, each with its source and date):

- Step Functions Standard bills one state transition "each time a step of your workflow is
  executed ... including retries" (aws.amazon.com/step-functions/pricing). From the history:
  every `*StateEntered` event, in the top level and inside inline Map iterations (their inner
  states are steps), plus one per retry (each extra `TaskScheduled` within one state visit).
  Inline Map iterations themselves are not billed ("you're not charged a state transition for
  each iteration of the Inline Map state"); a Distributed Map is billed "one state transition
  for each child workflow execution the Distributed Map state starts"
  (docs.aws.amazon.com/step-functions/latest/dg/concepts-transitions.html). Those child
  starts are not in the parent history, so they come from meta.json. (STANDARD children
  would also bill their own transitions; crawlmap's children are EXPRESS.)
- Express child executions: one request each, plus duration rounded up to 100 ms per
  execution at the memory used in 64 MB chunks. Our children carry one batch (a few KB), so
  each is billed at the smallest chunk, 64 MB. Their inner state transitions are not billed.
- Lambda: one request per invocation, plus GB-seconds = configured memory x duration
  rounded up to 1 ms per invocation, priced by architecture (arm64 is cheaper than x86_64).
- DynamoDB on-demand: one write request unit per 1 KB (rounded up) of each item written;
  BatchWriteItem items count individually. Reads: eventually consistent, 0.5 RRU per item
  up to 4 KB: one previous-state read per page (assumed; the store does not count reads).
- S3: PUT/LIST and GET requests (ItemReader, ResultWriter, result files).

The naive design it is compared with: one Lambda per page in a Standard inline Map (naive.py).

Modules, one job each: usage.py (the figures: Usage, CostLine, CostBreakdown), prices.py (the
price list and a usage priced with it), measured.py (a recorded run, scaled to --pages, and
the one place a CostBreakdown is built), projection.py (--project), naive.py (the naive
design), text.py (what `crawlmap cost` prints); duration.py and cpu.py (the load-independent
duration model).
"""

from crawlmap.cost.measured import estimate_cost, estimate_run
from crawlmap.cost.prices import load_prices
from crawlmap.cost.projection import project_run
from crawlmap.cost.text import format_cost, format_scaling
from crawlmap.cost.usage import (
    CostBreakdown,
    CostError,
    CostLine,
    TransitionCount,
    count_state_transitions,
)

__all__ = [
    "CostBreakdown",
    "CostError",
    "CostLine",
    "TransitionCount",
    "count_state_transitions",
    "estimate_cost",
    "estimate_run",
    "format_cost",
    "format_scaling",
    "load_prices",
    "project_run",
]
