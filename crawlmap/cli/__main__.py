"""`python -m crawlmap.cli`, as the `crawlmap` console script."""

import sys

from crawlmap.cli import main

sys.exit(main())
