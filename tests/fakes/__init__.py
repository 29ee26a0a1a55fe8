"""Small HTTP servers on 127.0.0.1 for behaviours the sample API does not have."""
