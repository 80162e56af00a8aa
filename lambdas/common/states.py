"""State names as the console shows them: one place for the definition, the engine and the tools.

Step Functions requires state names to be unique across a whole state machine (nested Maps and
distributed children included), so the distributed path's copies carry a Distributed suffix.
"""

from typing import Final

LIST_PAGES: Final = "ListPages"
EXPLAIN_INVALID_INPUT: Final = "ExplainInvalidInput"
INVALID_INPUT: Final = "InvalidInput"
CHOOSE_MODE: Final = "ChooseMode"

# inline path: CrawlPages (Map over lanes) -> CrawlLane (Map over a lane's batches, one at a
# time) -> CrawlBatch (Retry) | Catch -> RecordFailure
CRAWL_PAGES: Final = "CrawlPages"
CRAWL_LANE: Final = "CrawlLane"
CRAWL_BATCH: Final = "CrawlBatch"
RECORD_FAILURE: Final = "RecordFailure"

# distributed path: CrawlPagesDistributed (Distributed Map over lanes, one child execution per
# lane) -> PlanLane -> CrawlLaneDistributed -> CrawlBatchDistributed | RecordFailureDistributed
CRAWL_PAGES_DISTRIBUTED: Final = "CrawlPagesDistributed"
PLAN_LANE: Final = "PlanLane"
CRAWL_LANE_DISTRIBUTED: Final = "CrawlLaneDistributed"
CRAWL_BATCH_DISTRIBUTED: Final = "CrawlBatchDistributed"
RECORD_FAILURE_DISTRIBUTED: Final = "RecordFailureDistributed"

STORE_AND_NOTIFY: Final = "StoreAndNotify"
CHECK_FAILURE_RATIO: Final = "CheckFailureRatio"
RUN_FAILED: Final = "RunFailed"
SUCCEEDED: Final = "Succeeded"

# The distributed Map's label: its child executions are named <state machine>/<label>:<id>,
# and stacks/grants.py scopes their permissions with it.
MAP_RUN_LABEL: Final = "CrawlPages"

CRAWL_BATCH_STATES: Final = (CRAWL_BATCH, CRAWL_BATCH_DISTRIBUTED)
RECORD_FAILURE_STATES: Final = (RECORD_FAILURE, RECORD_FAILURE_DISTRIBUTED)
MAP_STATES: Final = (CRAWL_PAGES, CRAWL_LANE, CRAWL_PAGES_DISTRIBUTED, CRAWL_LANE_DISTRIBUTED)
