"""AI: smart replies, typing suggestions, summaries, moderation and search, as LangGraph
graphs behind a guard (timeouts, circuit breaker, offline fallback)."""
