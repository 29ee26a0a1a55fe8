"""`python -m beam_api_pipeline`: the command line."""

from beam_api_pipeline.cli import console_main

console_main()
