"""Projections: apply domain events to each service's PostgreSQL read models, idempotently."""
