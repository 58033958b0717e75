"""Shared test set-up and helpers.

The CPU is split into two logical devices before TensorFlow initialises, so tests
can compare a `MirroredStrategy` over 2 replicas with one device.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )
except RuntimeError:  # TensorFlow was already initialised by another conftest
    pass

from fdkd_tf.config import ModelSpec  # noqa: E402
from fdkd_tf.models import build_classifier  # noqa: E402

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


@pytest.fixture
def repo_root():
    return REPO_ROOT
