"""The repository's own extensions: data loaders (``data.loaders``) and metric functions
(``evaluate.extra_metrics``) named by import path, e.g. ``plugins.my_metrics:profit_at_k`` for
plugins/my_metrics.py. The stages run from the repository root, so these import without being
installed; the folder is a DVC dep of prepare, tune and evaluate, so editing a file here re-runs
them. See README "Extending"."""
