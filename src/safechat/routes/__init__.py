"""REST edge: one module per resource; errors become JSON in one middleware."""
