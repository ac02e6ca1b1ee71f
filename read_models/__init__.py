"""Read models: queries served from the projected PostgreSQL tables."""
