"""Media: uploads, signed reads and attaching, cleanup and sweeps, file checks and
re-encoding, the image worker pool; service.py is the entry."""
