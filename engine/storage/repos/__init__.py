"""Repositories: one module per aggregate; every function takes the session first."""
