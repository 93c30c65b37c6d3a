"""Messages: the send path (validation, group commit, fan-out), edits, reads, sync, rendering."""
