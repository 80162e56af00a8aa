"""Names of the environment variables the functions read.

The CDK stack sets them (stacks/ imports this module, the only runtime module it may import);
the local engine sets the same names, plus the local-only ones at the bottom.
"""

from typing import Final

TABLE_NAME: Final = "CRAWLMAP_TABLE_NAME"
BUCKET_NAME: Final = "CRAWLMAP_BUCKET_NAME"
TOPIC_ARN: Final = "CRAWLMAP_TOPIC_ARN"

BATCH_SIZE: Final = "CRAWLMAP_BATCH_SIZE"
# Distributed runs use bigger batches: each child execution started is a billed transition.
DISTRIBUTED_BATCH_SIZE: Final = "CRAWLMAP_DISTRIBUTED_BATCH_SIZE"
MAX_PAGES: Final = "CRAWLMAP_MAX_PAGES"
DEFAULT_SOURCE: Final = "CRAWLMAP_DEFAULT_SOURCE"  # JSON: {"pages": [...]} or {"sitemap": url}
DISTRIBUTED_THRESHOLD: Final = "CRAWLMAP_DISTRIBUTED_THRESHOLD"
RUN_TTL_DAYS: Final = "CRAWLMAP_RUN_TTL_DAYS"
# ListPages: how long a run may hold the run lease (the state machine's own timeout).
EXECUTION_TIMEOUT_MINUTES: Final = "CRAWLMAP_EXECUTION_TIMEOUT_MINUTES"

REQUEST_TIMEOUT: Final = "CRAWLMAP_REQUEST_TIMEOUT"  # seconds, float
USER_AGENT: Final = "CRAWLMAP_USER_AGENT"
ALLOW_PRIVATE_NETWORKS: Final = "CRAWLMAP_ALLOW_PRIVATE_NETWORKS"  # "true" / "false"
OBEY_ROBOTS: Final = "CRAWLMAP_OBEY_ROBOTS"  # "true" / "false"
MAX_REDIRECTS: Final = "CRAWLMAP_MAX_REDIRECTS"
MAX_BODY_BYTES: Final = "CRAWLMAP_MAX_BODY_BYTES"
PER_HOST_CONCURRENCY: Final = "CRAWLMAP_PER_HOST_CONCURRENCY"
PER_HOST_DELAY: Final = "CRAWLMAP_PER_HOST_DELAY"  # seconds, float
MAX_CRAWL_DELAY: Final = "CRAWLMAP_MAX_CRAWL_DELAY"  # cap on robots.txt Crawl-delay, seconds
MAX_RETRY_AFTER: Final = "CRAWLMAP_MAX_RETRY_AFTER"  # cap on Retry-After waits, seconds
SELECTORS: Final = "CRAWLMAP_SELECTORS"  # JSON: {"name": "css selector" | "css selector@attr"}
TRACKING_PARAMS: Final = "CRAWLMAP_TRACKING_PARAMS"  # comma-separated; utm_* always removed

# Local engine only: when set, the store is this SQLite file instead of DynamoDB, and the
# notification is printed (and appended to the file) instead of published to SNS.
SQLITE_PATH: Final = "CRAWLMAP_SQLITE_PATH"
NOTIFY_FILE: Final = "CRAWLMAP_NOTIFY_FILE"
