"""Infrastructure tests: the synthesized CloudFormation template and the checks around it."""

import stacks  # noqa: F401  (quietens jsii's Node banner before aws_cdk is first imported)
