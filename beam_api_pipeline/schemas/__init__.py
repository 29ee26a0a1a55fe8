"""BigQuery schemas of the rows: inferred, held to a contract, and the baseline a run holds them to."""
