"""Reduction shared by the losses: one value per sample."""

from __future__ import annotations

import tensorflow as tf


def per_sample_mean(values):
    """Mean over every axis except the batch axis: ``(batch, ...) -> (batch,)``."""
    return tf.reduce_mean(tf.reshape(values, [tf.shape(values)[0], -1]), axis=-1)
