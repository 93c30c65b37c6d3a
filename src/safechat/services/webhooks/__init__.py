"""Notification webhooks (docs/webhooks.md): a durable outbox in the database, delivered
by a background worker with signed requests, retried with backoff."""
