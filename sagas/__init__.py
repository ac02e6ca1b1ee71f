"""Sagas: multi-service workflows with compensations in reverse order."""
