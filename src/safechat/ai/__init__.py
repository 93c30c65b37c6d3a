"""AI pipelines (LangGraph graphs), their schemas, and the call guard (timeouts, breaker)."""
