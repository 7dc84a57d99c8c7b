"""Fixture pipelines the tracer tests trace (importable by spawned DataLoader workers)."""
