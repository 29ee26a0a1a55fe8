"""Entry point of `python -m beam_api_pipeline.sample_api`."""

import sys

from beam_api_pipeline.sample_api.cli import main

sys.exit(main())
