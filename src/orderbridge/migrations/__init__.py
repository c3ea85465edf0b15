"""Alembic migrations of the book; applied by `orderbridge db upgrade`."""
