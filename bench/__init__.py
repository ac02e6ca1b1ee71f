"""Benchmarks: the figures users choose a system by, measured on the local stack (never asserted)."""
