"""SafeChat: a self-hostable real-time messaging backend."""

__version__ = "0.1.0"
