"""Hyperparameter search of the distillation weights with keras-tuner."""

from fdkd_tf.tuning.hypermodel import DistillerHyperModel, apply_hyperparameters
from fdkd_tf.tuning.search import TUNER_KINDS, SearchError, format_trials, run_search

__all__ = ["TUNER_KINDS", "DistillerHyperModel", "SearchError", "apply_hyperparameters", "format_trials", "run_search"]
