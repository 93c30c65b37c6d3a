"""Machine-readable contracts generated from the code (OpenAPI, AsyncAPI; protocol §7)."""
