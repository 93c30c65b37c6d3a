"""Media: uploads, file checks and re-encoding, the image worker pool, the orphan sweep."""
