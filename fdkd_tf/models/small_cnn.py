"""A small CNN for small images (the embedded mfeat 16x15 digit images)."""

from __future__ import annotations

import keras


def small_cnn_features(inputs, spec, name: str = "small_cnn"):
    """Pre-activation ``spec.feature_dim`` feature of a small image batch.

    ResNet-18 is far too deep for 16x15 images, so small image views get one
    block per entry of ``spec.filters`` (Conv3x3 -> BatchNorm -> ReLU ->
    MaxPool2), a global average pool, optional dropout, and a linear projection
    to ``spec.feature_dim``. The projection has no activation: like the ResNet
    feature, it is the pre-ReLU feature that distillation compares, and the
    classification head applies the ReLU. Pooling uses ``"same"`` padding, so any
    spatial size of at least 1x1 works.

    Args:
        inputs: symbolic ``(batch, H, W, C)`` tensor (``keras.Input``).
        spec: the `ModelSpec`; uses ``filters``, ``feature_dim`` and ``dropout``.
        name: prefix of the layer names.

    Returns:
        The symbolic ``(batch, spec.feature_dim)`` feature.

    Raises:
        ValueError: when the input is not a rank-3 image (without batch).

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> spec = ModelSpec("small_cnn", feature_dim=64, filters=[16, 32])
        >>> small_cnn_features(keras.Input((16, 15, 1)), spec).shape
        (None, 64)
    """
    input_shape = tuple(inputs.shape[1:])
    if len(input_shape) != 3:
        raise ValueError(
            f"arch 'small_cnn' expects images of shape (height, width, channels), got "
            f"input_shape {input_shape} of rank {len(input_shape)}; use arch 'mlp' for "
            "vector views, or reshape the view to (height, width, channels)"
        )
    x = inputs
    for index, filters in enumerate(spec.filters):
        prefix = f"{name}_block{index}"
        x = keras.layers.Conv2D(
            filters, 3, padding="same", use_bias=False, name=f"{prefix}_conv"
        )(x)
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"{prefix}_bn")(x)
        x = keras.layers.ReLU(name=f"{prefix}_relu")(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"{prefix}_pool")(x)
    hint = x  # (batch, h, w, filters[-1]): the last conv block's map
    x = keras.layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)  # (batch, filters[-1])
    if spec.dropout > 0:
        x = keras.layers.Dropout(spec.dropout, name=f"{name}_dropout")(x)
    features = keras.layers.Dense(spec.feature_dim, name="features")(x)  # (batch, feature_dim)
    return {"features": features, "hint": hint}
