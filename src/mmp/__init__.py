"""modern-ml-pipeline: a DVC-managed, Hydra-configured, MLflow-tracked ML experiment repository."""

__version__ = "0.1.0"
