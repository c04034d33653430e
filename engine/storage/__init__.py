"""Storage: SQLAlchemy models, engines, and repositories (keyword-only, session first)."""
