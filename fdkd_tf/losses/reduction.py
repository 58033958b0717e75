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


def global_sum(value):
    """``value`` summed over the replicas of the current `tf.distribute` replica context.

    Losses whose normaliser spans the whole batch (PKD's per-channel statistics, the
    valid-pixel count of dense cross-entropy) call it so that a step on R replicas
    computes the statistics of the global batch, exactly as one device does. Outside
    a multi-replica context (one device, a cross-replica context, the JAX and torch
    backends) it returns ``value``. Differentiable: the gradient of a SUM all-reduce
    is the all-reduce of the incoming gradients.
    """
    import keras

    if keras.backend.backend() != "tensorflow":
        return value
    import tensorflow as tf  # only on the TensorFlow backend

    context = tf.distribute.get_replica_context()
    if context is None or context.num_replicas_in_sync == 1:
        return value
    return context.all_reduce(tf.distribute.ReduceOp.SUM, value)


def global_batch_size(values):
    """The number of samples of the global batch (float32) that ``values`` is a replica's part of."""
    return global_sum(ops.cast(ops.shape(values)[0], "float32"))
