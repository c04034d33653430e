"""Benchmarks run by ``solai bench NAME``; each module defines ``register(subparsers)``."""
