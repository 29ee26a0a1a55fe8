"""`python -m beam_api_pipeline`: the command line."""

import sys

from beam_api_pipeline.cli import main

sys.exit(main())
