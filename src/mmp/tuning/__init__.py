"""Hyperparameter search with Optuna over the ranges written in a model recipe.

``space`` (ranges and choosers, no Optuna import), ``cv`` (folds on the train split),
``objective`` (the CV score of one trial, with pruning), ``storage`` (the RDB study store) and
``search`` (study set-up, the trial budget, progress and the summary). Pure functions: the
stage and the worker command do the reading and writing.
"""
