"""Recipes, features, training, metrics and the quality gate: pure functions on typed objects."""
