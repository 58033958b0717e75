"""Tiny helpers shared by the tests of `fdkd_tf.models`."""

import keras
import numpy as np
import pytest


@pytest.fixture
def rng():
    """A seeded numpy generator, so every test sees the same inputs."""
    return np.random.default_rng(0)


@pytest.fixture
def save_and_reload(tmp_path):
    """Returns ``f(model) -> model`` that saves to a tmp ``.keras`` file and reloads it.

    No ``custom_objects`` are passed: registered fdkd_tf objects must reload by name.
    """

    def round_trip(model):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        return keras.saving.load_model(path)

    return round_trip


def assert_same_outputs(model, reloaded, inputs):
    """Both models give the same dict of outputs on ``inputs`` (inference mode)."""
    expected = model(inputs, training=False)
    actual = reloaded(inputs, training=False)
    assert sorted(actual) == sorted(expected)
    for key in expected:
        np.testing.assert_array_equal(np.asarray(actual[key]), np.asarray(expected[key]))


@pytest.fixture
def same_outputs():
    """The `assert_same_outputs` helper, as a fixture (conftest is not importable)."""
    return assert_same_outputs
