"""The pipeline's steps on typed objects (steps.py) and the thin DVC stage adapters (stages/)."""
