"""quantum layer."""
