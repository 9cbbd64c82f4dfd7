"""The bottom layer: typed config (Params, RuntimeSettings), errors, file writers, database URLs."""
