"""Adapters (PostgreSQL, Kafka, settings, logging, CLI, local stack) and the one bootstrap that wires them."""
