"""Shared test set-up and helpers.

The CPU is split into two logical devices before TensorFlow initialises, so tests
can compare a `MirroredStrategy` over 2 replicas with one device.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two pytest workers share the 2 cores: one intra-op thread each (inherited by
    # the subprocesses a test starts) instead of both oversubscribing the CPU.
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")

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


@pytest.fixture(scope="session")
def mirrored_strategy():
    """One `MirroredStrategy` over the 2 logical CPUs for the whole test session.

    Every MirroredStrategy numbers its collective all-reduces from the same keys and
    TensorFlow caches each key's shape for the process, so a second strategy over the
    same devices replays keys with other shapes and aborts. Tests share this one.
    """
    devices = tf.config.list_logical_devices("CPU")
    assert len(devices) >= 2, "tests/conftest.py should split the CPU into 2 logical devices"
    return tf.distribute.MirroredStrategy([d.name for d in devices[:2]])
