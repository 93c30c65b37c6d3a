"""AIProvider: an OpenAI-compatible server or the offline heuristics (and their process pool)."""
