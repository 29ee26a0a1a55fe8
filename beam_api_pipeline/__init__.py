"""beam_api_pipeline: land REST and GraphQL API data in BigQuery, GCS and files with Apache Beam."""

__version__ = "0.1.0"
