"""HTTP access to APIs: the client, its retry policy, limits, authentication and redaction."""
