"""Benchmarks that print figures: `python -m bench [name]` (docs/benchmarks.md records them)."""
