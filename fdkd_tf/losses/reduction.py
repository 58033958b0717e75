"""Reduction and safe division shared by the losses: one value per sample."""

from __future__ import annotations

from keras import ops


def per_sample_mean(values):
    """Mean over every axis except the batch axis: ``(batch, ...) -> (batch,)``."""
    return ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=-1)


def divide_no_nan(numerator, denominator):
    """``numerator / denominator``, 0 where the denominator is 0 (TensorFlow's ``divide_no_nan``).

    The division itself uses a denominator of 1 there, so neither the value nor
    the gradient is NaN.
    """
    is_zero = ops.equal(denominator, 0.0)
    safe_denominator = ops.where(is_zero, ops.ones_like(denominator), denominator)
    return ops.where(is_zero, ops.zeros_like(numerator), numerator / safe_denominator)
