"""PyMongo data access, one module per collection."""
