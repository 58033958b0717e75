"""Cross-entropy on integer labels, the task term every method shares."""

from __future__ import annotations

import keras
import tensorflow as tf

from fdkd_tf.losses.reduction import per_sample_mean


def cross_entropy(labels, logits):
    """Per-sample softmax cross-entropy of integer labels.

    Dense logits ``(batch, H, W, classes)`` give one value per pixel averaged per
    sample. Computed in float32.

    Args:
        labels: ``(batch,)`` or ``(batch, H, W)`` integer class indices.
        logits: ``(batch, classes)`` or ``(batch, H, W, classes)``.

    Returns:
        ``(batch,)`` float32 losses.
    """
    logits = tf.cast(logits, tf.float32)
    losses = keras.ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
    return per_sample_mean(losses) if losses.shape.rank > 1 else losses
