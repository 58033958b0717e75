"""The reference poly schedule and optimizer construction."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from fdkd_tf.config import TrainConfig
from fdkd_tf.training.schedules import PolyEpochDecay, build_optimizer


def test_poly_schedule_matches_reference_formula_per_epoch():
    schedule = PolyEpochDecay(1e-2, 1e-4, epochs=100, steps_per_epoch=7, power=0.9)
    for step in [0, 1, 6, 7, 350, 693, 699]:
        epoch = step // 7
        expected = 1e-4 + (1e-2 - 1e-4) * (1 - epoch / 100) ** 0.9
        assert float(schedule(step)) == pytest.approx(expected, rel=1e-5)
    # Constant within an epoch, never below the final rate after the schedule ends.
    assert float(schedule(7)) == float(schedule(13))
    assert float(schedule(10_000)) == pytest.approx(1e-4)


def test_poly_schedule_serializes():
    schedule = PolyEpochDecay(1e-2, 1e-4, 10, 3, 0.9)
    clone = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(schedule))
    assert np.isclose(float(clone(12)), float(schedule(12)))


def test_build_optimizer_kinds():
    sgd = build_optimizer(TrainConfig(), steps_per_epoch=5, epochs=10)
    assert isinstance(sgd, keras.optimizers.SGD) and sgd.momentum == pytest.approx(0.9)
    assert isinstance(sgd.learning_rate_schedule if hasattr(sgd, "learning_rate_schedule") else sgd._learning_rate, PolyEpochDecay)
    adam = build_optimizer(TrainConfig(optimizer="adam", schedule="constant", learning_rate=1e-3), 5, 10)
    assert isinstance(adam, keras.optimizers.Adam)
    assert float(adam.learning_rate) == pytest.approx(1e-3)
