"""Cross-entropy on integer labels, the task term every method shares."""

from __future__ import annotations

import keras
import tensorflow as tf

from fdkd_tf.losses.reduction import per_sample_mean


def resize_to_labels(logits, labels):
    """Dense logits resized bilinearly to the label map's size.

    Heads on a stride-4 decoder feature (FD-CMKD's band and alignment heads)
    predict at a quarter of the label resolution; their logits are upsampled as
    DeepLabV3+ upsamples its own, so every head is scored on the full label map.
    Classification logits (rank 2) are returned unchanged.

    Args:
        logits: ``(batch, classes)`` or ``(batch, h, w, classes)``.
        labels: ``(batch,)`` or ``(batch, H, W)``.

    Returns:
        The logits, ``(batch, H, W, classes)`` for dense ones.

    Example:
        >>> resize_to_labels(tf.zeros((2, 4, 4, 3)), tf.zeros((2, 16, 16), tf.int32)).shape
        TensorShape([2, 16, 16, 3])
    """
    if logits.shape.rank != 4:
        return logits
    if logits.shape[1:3] == labels.shape[1:3] and None not in labels.shape[1:3]:
        return logits
    return tf.image.resize(logits, tf.shape(labels)[1:3], method="bilinear")


def cross_entropy(labels, logits, ignore_label=None):
    """Per-sample softmax cross-entropy of integer labels.

    Dense logits ``(batch, h, w, classes)`` give one value per pixel, averaged per
    sample; they are first resized to the label size (`resize_to_labels`) when
    the two differ. Pixels (or samples) labelled ``ignore_label`` count neither
    in the loss nor in the average: each sample's value is the mean over its
    valid pixels (0 when it has none). Computed in float32.

    Args:
        labels: ``(batch,)`` or ``(batch, H, W)`` integer class indices.
        logits: ``(batch, classes)`` or ``(batch, h, w, classes)``.
        ignore_label: label value to leave out (segmentation's unlabelled
            pixels, e.g. 255), or None to use every label.

    Returns:
        ``(batch,)`` float32 losses.

    Example:
        >>> labels = tf.constant([[[0, 255]]])  # (1, 1, 2): one ignored pixel
        >>> cross_entropy(labels, tf.zeros((1, 1, 2, 4)), ignore_label=255).numpy().round(4)
        array([1.3863], dtype=float32)
    """
    logits = resize_to_labels(tf.cast(logits, tf.float32), labels)
    if ignore_label is None:
        losses = keras.ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        return per_sample_mean(losses) if losses.shape.rank > 1 else losses
    labels = tf.cast(labels, tf.int32)
    valid = tf.not_equal(labels, ignore_label)
    safe_labels = tf.where(valid, labels, tf.zeros_like(labels))
    losses = keras.ops.sparse_categorical_crossentropy(safe_labels, logits, from_logits=True)
    losses = tf.where(valid, losses, tf.zeros_like(losses))
    batch = tf.shape(labels)[0]
    total = tf.reduce_sum(tf.reshape(losses, [batch, -1]), axis=-1)  # (batch,)
    count = tf.reduce_sum(tf.reshape(tf.cast(valid, tf.float32), [batch, -1]), axis=-1)
    return total / tf.maximum(count, 1.0)
