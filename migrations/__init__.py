"""Alembic revisions for the SolAI schema (SQLite and PostgreSQL)."""
