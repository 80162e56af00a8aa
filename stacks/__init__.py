"""The crawlmap CDK app: config, constructs, grants, the Lambda asset, in-process synthesis."""

import os

# jsii prints a multi-line banner on stderr when Node is past its end of life (Node 20 here).
# It says nothing about crawlmap; silence it before any aws_cdk import (users can still set
# these variables themselves).
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "18,20")
