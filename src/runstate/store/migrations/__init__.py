"""Alembic migrations of the metadata database (run in-process by ``runstate``)."""
