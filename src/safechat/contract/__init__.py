"""Machine-readable contracts generated from the models (docs/protocol.md §7)."""
