"""Socket.IO edge: validate, call a service, ack or emit. No database calls."""
