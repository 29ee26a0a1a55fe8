"""Entry point of `python -m sample_api`."""

import sys

from sample_api.cli import main

sys.exit(main())
