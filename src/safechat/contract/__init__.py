"""Machine-readable contracts generated from the code (OpenAPI)."""
