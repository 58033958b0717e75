"""train.precision: the global dtype policy for a block, and float32 copies of students."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from testing_utils import tiny_classifier
from fdkd_tf.training.precision import float32_copy, precision_policy


def test_policy_is_set_inside_and_restored_after_an_error():
    with pytest.raises(RuntimeError):
        with precision_policy("mixed_bfloat16"):
            assert keras.config.dtype_policy().name == "mixed_bfloat16"
            raise RuntimeError("boom")
    assert keras.config.dtype_policy().name == "float32"
    with pytest.raises(ValueError, match="train.precision must be one of float32, mixed_float16, mixed_bfloat16"):
        with precision_policy("float8"):
            pass


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_float32_copy_keeps_the_weights_and_computes_in_float32(precision):
    with precision_policy(precision):
        model = tiny_classifier(6, 8, 3, "student_a", seed=0)
    copy = float32_copy(model, lambda: tiny_classifier(6, 8, 3, "student_a", seed=1))
    assert {layer.dtype_policy.name for layer in copy.layers} == {"float32"}
    for a, b in zip(model.get_weights(), copy.get_weights()):
        np.testing.assert_array_equal(a, b)
    inputs = np.random.default_rng(0).normal(size=(4, 6)).astype("float32")
    half, full = model(inputs)["logits"], copy(inputs)["logits"]
    assert full.dtype == "float32" and half.dtype == precision.split("_")[1]
    np.testing.assert_allclose(np.asarray(full), np.asarray(half, "float32"), atol=0.05)
    assert float32_copy(copy, None) is copy  # already float32: nothing rebuilt
