"""Every permission in the stack, written out: what each principal may do and on what.

Wildcards are used only where AWS requires them (each one says why); object prefixes are
the S3 layout in stacks/storage.py.
"""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from lambdas.common.states import MAP_RUN_LABEL
from stacks.storage import PAGE_LISTS_PREFIX, RUNS_PREFIX

TABLE_READ = ("dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query")
# StoreAndNotify reads each page's stored state before writing (BatchGetItem) so that an older
# run never overwrites a newer run's latest state.
TABLE_WRITE = (
    "dynamodb:BatchWriteItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",  # page states: conditional, so an older run never wins
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
)
RESULT_WRITER_ACTIONS = ("s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts")
# CloudWatch Logs vended delivery (state machine logging) and X-Ray accept only Resource "*".
LOG_DELIVERY_ACTIONS = (
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
)  # fmt: skip
XRAY_ACTIONS = (
    "xray:PutTraceSegments", "xray:PutTelemetryRecords",
    "xray:GetSamplingRules", "xray:GetSamplingTargets",
)  # fmt: skip


def _table_statement(table: dynamodb.ITable, actions: tuple[str, ...]) -> iam.PolicyStatement:
    return iam.PolicyStatement(actions=list(actions), resources=[table.table_arn])


# The run lease (docs/CONTRACT.md, "Overlapping runs"): one item, partition key LEASE. ListPages
# takes it (conditional PutItem) and gives it back when it fails; StoreAndNotify releases it
# (conditional DeleteItem). LeadingKeys keeps these writes off every other item.
LEASE_PARTITION = "LEASE"
LIST_PAGES_LEASE_ACTIONS = ("dynamodb:PutItem", "dynamodb:DeleteItem")
STORE_AND_NOTIFY_LEASE_ACTIONS = ("dynamodb:DeleteItem",)


def _lease_statement(table: dynamodb.ITable, actions: tuple[str, ...]) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        actions=list(actions),
        resources=[table.table_arn],
        conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [LEASE_PARTITION]}},
    )


def grant_list_pages(
    function: lambda_.IFunction, *, table: dynamodb.ITable, bucket: s3.IBucket
) -> None:
    """Reads page state, reads page lists, writes batches for the distributed Map; takes the
    run lease."""
    function.add_to_role_policy(_table_statement(table, TABLE_READ))
    function.add_to_role_policy(_lease_statement(table, LIST_PAGES_LEASE_ACTIONS))
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{PAGE_LISTS_PREFIX}*")]
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"], resources=[bucket.arn_for_objects(f"{RUNS_PREFIX}*")]
        )
    )
    if table.encryption_key:  # the lease is written: Encrypt and GenerateDataKey too
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[table.encryption_key.key_arn],
            )
        )


# CrawlBatch's host notes (a run-wide back-off per host): read in one BatchGetItem, written
# by a conditional PutItem.
HOST_NOTES_ACTIONS = ("dynamodb:BatchGetItem", "dynamodb:PutItem")


def grant_crawl_batch(
    function: lambda_.IFunction, *, table: dynamodb.ITable, bucket: s3.IBucket
) -> None:
    """Host notes in the table; the distributed Map's batches (read) and results (written)."""
    function.add_to_role_policy(_table_statement(table, HOST_NOTES_ACTIONS))
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{RUNS_PREFIX}*/lanes/*")]
        )
    )
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:PutObject"],
            resources=[bucket.arn_for_objects(f"{RUNS_PREFIX}*/results/*")],
        )
    )
    if table.encryption_key:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[table.encryption_key.key_arn],
            )
        )


def grant_store_and_notify(
    function: lambda_.IFunction,
    *,
    table: dynamodb.ITable,
    bucket: s3.IBucket,
    topic: sns.ITopic,
) -> None:
    """Writes page and run records, reads the distributed Map's results, publishes; releases
    the run lease."""
    function.add_to_role_policy(_table_statement(table, TABLE_WRITE))
    function.add_to_role_policy(_lease_statement(table, STORE_AND_NOTIFY_LEASE_ACTIONS))
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{RUNS_PREFIX}*")]
        )
    )
    # It lists a run's results/ (a batch that wrote none is failed from the plan); listing
    # also turns a missing object's 403 into a 404.
    function.add_to_role_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{RUNS_PREFIX}*"]}},
        )
    )
    if table.encryption_key:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[table.encryption_key.key_arn],
            )
        )
    function.add_to_role_policy(
        iam.PolicyStatement(actions=["sns:Publish"], resources=[topic.topic_arn])
    )
    if topic.master_key:  # publishing to an encrypted topic encrypts with its key
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["kms:GenerateDataKey", "kms:Decrypt"],
                resources=[topic.master_key.key_arn],
            )
        )


def grant_state_machine(
    scope: Construct,
    *,
    role: iam.IRole,
    state_machine: sfn.StateMachine,
    functions: list[lambda_.IFunction],
    bucket: s3.IBucket,
) -> tuple[iam.Policy, iam.Policy]:
    """Invoke the three functions; run the distributed Map on the runs/ prefix only.

    Returns the policy the state machine needs to exist and the child-executions policy.
    """
    runs_objects = bucket.arn_for_objects(f"{RUNS_PREFIX}*")
    base = iam.Policy(
        scope,
        "StateMachinePolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="InvokeCrawlFunctions",
                actions=["lambda:InvokeFunction"],
                resources=[f.function_arn for f in functions],
            ),
            iam.PolicyStatement(
                sid="ReadBatchesWithItemReader", actions=["s3:GetObject"], resources=[runs_objects]
            ),
            iam.PolicyStatement(
                sid="WriteResultsWithResultWriter",
                actions=list(RESULT_WRITER_ACTIONS),
                resources=[runs_objects],
            ),
            iam.PolicyStatement(
                sid="DeliverLogs", actions=list(LOG_DELIVERY_ACTIONS), resources=["*"]
            ),
            iam.PolicyStatement(sid="Tracing", actions=list(XRAY_ACTIONS), resources=["*"]),
        ],
    )
    # The state machine validates its logging permissions when it is created.
    state_machine.node.add_dependency(base)

    def execution_arn(resource_name: str) -> str:
        # Pseudo parameters rather than the stack's env, so the ARN (and its cdk-nag finding id)
        # is the same whatever account and region synthesize.
        return f"arn:{Aws.PARTITION}:states:{Aws.REGION}:{Aws.ACCOUNT_ID}:execution:{resource_name}"

    name = state_machine.state_machine_name
    children = iam.Policy(
        scope,
        "StateMachineChildExecutionsPolicy",
        roles=[role],
        statements=[
            iam.PolicyStatement(
                sid="StartChildExecutions",
                actions=["states:StartExecution"],
                resources=[state_machine.state_machine_arn],
            ),
            iam.PolicyStatement(
                sid="ManageChildExecutions",
                actions=["states:DescribeExecution", "states:StopExecution"],
                # Step Functions names executions <machine>:<id> and map-run children
                # <machine>/<label>:<id>; the ids are only known at run time.
                resources=[execution_arn(f"{name}:*"), execution_arn(f"{name}/{MAP_RUN_LABEL}:*")],
            ),
            iam.PolicyStatement(
                sid="RedriveMapRun",
                actions=["states:RedriveExecution"],
                resources=[execution_arn(f"{name}/{MAP_RUN_LABEL}:*")],
            ),
        ],
    )
    return base, children
