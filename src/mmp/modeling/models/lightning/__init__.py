"""PyTorch Lightning versions of mmp's torch models (``model=lightning_mlp``,
``model=lightning_tab_transformer``). Importing this package imports neither torch nor Lightning."""

from mmp.modeling.models.lightning.estimators import LightningMLPClassifier, LightningMLPRegressor, LightningTabTransformerClassifier

__all__ = ["LightningMLPClassifier", "LightningMLPRegressor", "LightningTabTransformerClassifier"]
