"""Helpers shared by tests in several folders (tiny models, fixed batches)."""

from __future__ import annotations

import os

import numpy as np

from fdkd_tf.config import ModelSpec
from fdkd_tf.models import build_classifier

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_classifier(input_dim: int, feature_dim: int, num_classes: int, name: str, seed: int):
    """A BN-free MLP classifier with seeded weights (same seed -> same weights)."""
    import keras

    keras.utils.set_random_seed(seed)
    spec = ModelSpec(arch="mlp", hidden_units=[16], feature_dim=feature_dim)
    return build_classifier(spec, (input_dim,), num_classes, name=name)


def paired_batch(batch: int, teacher_dim: int, student_dim: int, num_classes: int, seed: int = 0):
    """A fixed paired batch ``({"teacher", "student"}, labels)`` as numpy arrays."""
    rng = np.random.default_rng(seed)
    inputs = {
        "teacher": rng.normal(size=(batch, teacher_dim)).astype("float32"),
        "student": rng.normal(size=(batch, student_dim)).astype("float32"),
    }
    labels = rng.integers(0, num_classes, size=batch).astype("int32")
    return inputs, labels
