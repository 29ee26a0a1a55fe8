"""Packaging for beam_api_pipeline: the Flex Template image installs it, and Dataflow workers install it from
the source distribution Beam builds with ``--setup_file`` (the launcher passes ``FLEX_TEMPLATE_PYTHON_SETUP_FILE``).

Workers import every module of the package and read its data files (YAML templates, JSON schemas) through
``importlib.resources``, so both are shipped; ``tests/pipeline/test_packaging.py`` checks the staged package.
"""

from setuptools import find_packages, setup

setup(
    name="beam_api_pipeline",
    version="0.1.0",
    description="Apache Beam pipeline template: REST and GraphQL API data into BigQuery, GCS and files.",
    python_requires=">=3.11",
    packages=find_packages(include=["beam_api_pipeline", "beam_api_pipeline.*"]),
    package_data={"beam_api_pipeline": ["**/*.yaml", "**/*.yml", "**/*.json"]},
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
