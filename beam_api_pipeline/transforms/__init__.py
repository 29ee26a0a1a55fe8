"""The Beam side of the pipeline: reading windows from the API, shaping records, writing, committing."""
