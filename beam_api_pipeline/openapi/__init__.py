"""`init --openapi`: read an OpenAPI document (`spec`), detect its list endpoints (`detect`), write the pipeline file
(`render`); the command itself is `command`. Imports only `core`; only `cli` imports it."""
