"""The ground floor: windows, time formats, paths, JSON, errors, metric names, logging, redaction and Beam plumbing."""
