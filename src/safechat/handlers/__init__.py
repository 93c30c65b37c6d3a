"""Socket.IO edge: validate, call a service, ack. No database calls, no emits: events
leave through services (the Notifier port) and the boundary (echoes, error channels)."""
