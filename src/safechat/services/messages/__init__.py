"""Messages: the send path (validation, group commit, fan-out), changes to stored messages,
read receipts, history and sync, rendering; service.py is the entry."""
