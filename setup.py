"""Packaging for beam_api_pipeline: Dataflow workers install it with --setup_file."""

from setuptools import find_packages, setup

setup(
    name="beam_api_pipeline",
    version="0.1.0",
    description="Apache Beam pipeline template: REST and GraphQL API data into BigQuery, GCS and files.",
    python_requires=">=3.11",
    packages=find_packages(include=["beam_api_pipeline", "beam_api_pipeline.*"]),
    include_package_data=True,
    package_data={"beam_api_pipeline": ["pipelines/*.yaml", "schemas/*.json"]},
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "requests>=2.31",
        "pydantic>=2.6,<3",
        "tenacity>=8.2",
        "PyYAML>=6",
    ],
    entry_points={"console_scripts": ["beam-api-pipeline=beam_api_pipeline.cli:main"]},
)
