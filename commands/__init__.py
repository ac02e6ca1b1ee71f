"""Commands: imperative messages, pure aggregates that turn them into events, and their handlers."""
