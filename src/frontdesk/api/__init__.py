"""The REST API (v1): thin routes that parse, call one action or query, and present."""
