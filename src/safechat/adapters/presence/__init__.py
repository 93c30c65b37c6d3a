"""PresenceStore and TypingStore: in memory (one node) and in Redis (several nodes)."""
