"""Business rules. Never imports socketio or aiohttp."""
