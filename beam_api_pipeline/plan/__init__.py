"""What a run does: its windows per endpoint, dependent endpoints, and a streaming run's polls."""
