"""MLflow as a mirror of DVC: every experiment becomes one MLflow run (exactly once, keyed by
the experiment's identity) and its package a registered model version. DVC stays the source of
truth; nothing here writes a DVC output."""
