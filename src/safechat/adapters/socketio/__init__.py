"""python-socketio and python-engineio: the Notifier, client managers, WebSocket options,
the Engine.IO guard and the JSON codec."""
