"""Subcommands of ``mmp``: each module defines ``register(subparsers)``."""
