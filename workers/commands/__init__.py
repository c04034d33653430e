"""One module per ``solai`` subcommand; each defines ``register(subparsers)``."""
