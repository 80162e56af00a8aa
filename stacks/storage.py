"""Storage: the DynamoDB table (page state, run records) and the S3 bucket of run artifacts."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks._common import removal_policy
from stacks.config import CrawlmapConfig

# The S3 layout the functions and the distributed Map share (ListPages decides the keys).
RUNS_PREFIX = "runs/"  # runs/<run_id>/batches.json, runs/<run_id>/results/...
PAGE_LISTS_PREFIX = "page-lists/"  # {"pages_s3": "s3://<bucket>/page-lists/..."} inputs
TTL_ATTRIBUTE = "expires_at"


class Storage(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, config: CrawlmapConfig) -> None:
        super().__init__(scope, construct_id)
        policy = removal_policy(config.removal_policy)

        self.table_key: kms.Key | None = None
        if config.encryption == "customer_managed":
            self.table_key = kms.Key(
                self, "TableKey", enable_key_rotation=True, removal_policy=policy,
                description="crawlmap: encrypts the page and run table",
            )  # fmt: skip
        self.table = dynamodb.Table(
            self,
            "Table",
            partition_key=dynamodb.Attribute(name="pk", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="sk", type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            time_to_live_attribute=TTL_ATTRIBUTE,
            encryption=dynamodb.TableEncryption.CUSTOMER_MANAGED
            if self.table_key
            else dynamodb.TableEncryption.AWS_MANAGED,
            encryption_key=self.table_key,
            removal_policy=policy,
        )

        self.access_logs_bucket: s3.Bucket | None = None
        if config.access_logs:
            self.access_logs_bucket = s3.Bucket(
                self,
                "AccessLogsBucket",
                encryption=s3.BucketEncryption.S3_MANAGED,
                block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
                enforce_ssl=True,
                object_ownership=s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
                lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(90))],
                removal_policy=policy,
                auto_delete_objects=False,
            )
        self.bucket = s3.Bucket(
            self,
            "ArtifactsBucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=False,
            server_access_logs_bucket=self.access_logs_bucket,
            server_access_logs_prefix="artifacts/" if self.access_logs_bucket else None,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireRuns",
                    prefix=RUNS_PREFIX,
                    expiration=Duration.days(config.run_ttl_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=policy,
        )
