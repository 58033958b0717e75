"""Cross-entropy on integer labels, the task term every method shares."""

from __future__ import annotations

from keras import ops

from fdkd_tf.losses.reduction import divide_no_nan, global_batch_size, global_sum, per_sample_mean


def _bilinear_resize(images, size):
    """Bilinear resize with half-pixel centres and no antialiasing, from primitives.

    The fallback of `resize_to_labels` for a label size known only at run time
    (a TensorFlow graph with unknown spatial dimensions), which
    `keras.ops.image.resize` does not accept. It reproduces TensorFlow's
    ``ResizeBilinear`` kernel (its bilinear ``image.resize``): source
    coordinate ``(i + 0.5) * in / out - 0.5``, neighbours clamped to the image,
    interpolation along the width first, then the height; float32 output.
    """
    images = ops.cast(images, "float32")

    def neighbours(in_size, out_size):
        scale = ops.cast(in_size, "float32") / ops.cast(out_size, "float32")
        source = (ops.cast(ops.arange(out_size), "float32") + 0.5) * scale - 0.5
        floor = ops.floor(source)
        lower = ops.maximum(ops.cast(floor, "int32"), 0)
        upper = ops.minimum(ops.cast(ops.ceil(source), "int32"), ops.cast(in_size, "int32") - 1)
        return lower, upper, source - floor

    shape = ops.shape(images)
    top, bottom, y_lerp = neighbours(shape[1], size[0])
    left, right, x_lerp = neighbours(shape[2], size[1])
    x_lerp = ops.reshape(x_lerp, (1, 1, -1, 1))
    y_lerp = ops.reshape(y_lerp, (1, -1, 1, 1))

    def along_width(rows):
        left_values = ops.take(rows, left, axis=2)
        return left_values + (ops.take(rows, right, axis=2) - left_values) * x_lerp

    top_values = along_width(ops.take(images, top, axis=1))
    bottom_values = along_width(ops.take(images, bottom, axis=1))
    return top_values + (bottom_values - top_values) * y_lerp


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
        The logits, ``(batch, H, W, classes)`` for dense ones (float32 when
        resized).

    Example:
        >>> import numpy as np
        >>> tuple(resize_to_labels(np.zeros((2, 4, 4, 3), "float32"), np.zeros((2, 16, 16), "int32")).shape)
        (2, 16, 16, 3)
    """
    if len(logits.shape) != 4:
        return logits
    label_size = tuple(labels.shape[1:3])
    if None in label_size:
        # Only a TensorFlow graph has unknown dimensions: resize to the run-time size.
        return _bilinear_resize(logits, ops.shape(labels)[1:3])
    if tuple(logits.shape[1:3]) == label_size:
        return logits
    # float32 on every backend, as TensorFlow's resize returns (it computes in float32).
    return ops.image.resize(
        ops.cast(logits, "float32"), label_size, interpolation="bilinear", antialias=False, data_format="channels_last"
    )


def cross_entropy(labels, logits, ignore_label=None):
    """Softmax cross-entropy of integer labels, one value per sample.

    Classification: each sample's loss. Dense logits ``(batch, h, w, classes)`` are
    first resized to the label size (`resize_to_labels`: bilinear with half-pixel
    centres, PyTorch's ``align_corners=False``, as DeepLabV3+ implementations
    upsample) and give one loss per pixel. With ``ignore_label``, the loss is the
    mean over every valid pixel (or sample) of the *global* batch, as
    ``torch.nn.CrossEntropyLoss(ignore_index=...)`` computes on a whole batch: images
    with more ignored pixels weigh less. It is returned per sample as each sample's
    sum scaled by ``global batch size / global valid count`` (counts summed over the
    replicas of a `tf.distribute` context, `global_sum`), so the batch mean of the
    result is that pixel mean, exactly, on one device and on R replicas. 0 when no
    pixel is valid. Computed in float32.

    Args:
        labels: ``(batch,)`` or ``(batch, H, W)`` integer class indices.
        logits: ``(batch, classes)`` or ``(batch, h, w, classes)``.
        ignore_label: label value to leave out (segmentation's unlabelled
            pixels, e.g. 255), or None to use every label.

    Returns:
        ``(batch,)`` float32 values whose mean is the loss.

    Example:
        >>> import numpy as np
        >>> labels = np.array([[[0, 255]]])  # (1, 1, 2): one ignored pixel
        >>> np.asarray(cross_entropy(labels, np.zeros((1, 1, 2, 4), "float32"), ignore_label=255)).round(4)
        array([1.3863], dtype=float32)
    """
    logits = resize_to_labels(ops.cast(logits, "float32"), labels)
    if ignore_label is None:
        losses = ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)
        return per_sample_mean(losses) if len(losses.shape) > 1 else losses  # equal pixel counts: the pixel mean
    labels = ops.cast(labels, "int32")
    valid = ops.not_equal(labels, ignore_label)
    safe_labels = ops.where(valid, labels, ops.zeros_like(labels))
    losses = ops.sparse_categorical_crossentropy(safe_labels, logits, from_logits=True)
    losses = ops.where(valid, losses, ops.zeros_like(losses))
    batch = ops.shape(labels)[0]
    total = ops.sum(ops.reshape(losses, (batch, -1)), axis=-1)  # (batch,)
    count = global_sum(ops.sum(ops.cast(valid, "float32")))
    return divide_no_nan(total * global_batch_size(total), count)
