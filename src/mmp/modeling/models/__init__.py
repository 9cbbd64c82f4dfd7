"""mmp's own estimators (PyTorch), sklearn-compatible so a recipe uses them like any other:
``class_path: mmp.modeling.models.mlp.MLPClassifier``. torch is imported only when one is fitted or used."""
