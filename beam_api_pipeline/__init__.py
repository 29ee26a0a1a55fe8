"""beam_api_pipeline: land REST and GraphQL API data in BigQuery, GCS and files with Apache Beam.

`ReadFromApi` (with `window_tasks`, `load_pipeline_config`, `RECORDS` and `RESULTS`) reads an API in a Beam
pipeline of your own; see docs/extending.md.
"""

__version__ = "0.1.0"  # before the imports below: beam_api_pipeline.config reads it

from beam_api_pipeline.config import load_pipeline_config
from beam_api_pipeline.fetch.read import RECORDS, RESULTS, ReadFromApi
from beam_api_pipeline.plan.run_plan import window_tasks

__all__ = ["RECORDS", "RESULTS", "ReadFromApi", "__version__", "load_pipeline_config", "window_tasks"]
