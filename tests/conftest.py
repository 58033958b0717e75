"""Shared test set-up and helpers.

The CPU is split into two logical devices before TensorFlow initialises, so tests
can compare a `MirroredStrategy` over 2 replicas with one device.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

try:
    tf.config.set_logical_device_configuration(
        tf.config.list_physical_devices("CPU")[0],
        [tf.config.LogicalDeviceConfiguration()] * 2,
    )
except RuntimeError:  # TensorFlow was already initialised by another conftest
    pass

from testing_utils import REPO_ROOT  # noqa: E402


@pytest.fixture
def repo_root():
    return REPO_ROOT
