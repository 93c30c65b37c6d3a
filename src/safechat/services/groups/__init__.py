"""Groups: lookups and membership checks, views, management, members and roles."""
