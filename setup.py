"""Packaging for beam_api_pipeline. The Flex Template image installs it (templates/Dockerfile), and the workers run
that same image (``sdk_container_image``), so a launch stages nothing. A job submitted from a workstation without
the image passes ``--setup_file ./setup.py`` instead: Beam builds a source distribution from this file and the
workers install it (docs/deploy.md, "Try the launch locally").

The package is Python modules only (no data files); ``tests/pipeline/test_packaging.py`` checks that the staged
source distribution holds every module and alone can unpickle the job's DoFns.
"""

from setuptools import find_packages, setup

setup(
    name="beam_api_pipeline",
    version="0.1.0",
    description="Apache Beam pipeline template: REST and GraphQL API data into BigQuery, GCS and files.",
    python_requires=">=3.11",
    packages=find_packages(include=["beam_api_pipeline", "beam_api_pipeline.*"]),
    install_requires=[
        "apache-beam[gcp]==2.77.0",
        "requests>=2.31",
        "pydantic>=2.6,<3",
        "tenacity>=8.3",
        "PyYAML>=6",
        "orjson>=3.9",
        "redis>=5",
    ],
    entry_points={
        "console_scripts": [
            "beam-api-pipeline=beam_api_pipeline.cli:console_main",
            "beam-api-pipeline-launch=beam_api_pipeline.flex_template:main",
        ]
    },
)
