"""Implementations of the ports in `safechat.services.ports`."""
