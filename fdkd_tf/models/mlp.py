"""A multilayer perceptron for vector views (mfeat's Fourier, Zernike, ... features)."""

from __future__ import annotations

import keras


def mlp_features(inputs, spec, name: str = "mlp"):
    """Pre-activation ``spec.feature_dim`` feature of a batch of vectors.

    Hidden layers are Dense -> ReLU (-> Dropout) per ``spec.hidden_units``; the
    last Dense to ``spec.feature_dim`` has no activation, so the feature is
    pre-ReLU like the ResNet one and the classification head applies the ReLU.
    There is deliberately no BatchNorm: the network is then a fixed function of
    each sample, which the distribution-equivalence tests rely on.

    Args:
        inputs: symbolic ``(batch, features)`` tensor (``keras.Input``).
        spec: the `ModelSpec`; uses ``hidden_units``, ``feature_dim`` and
            ``dropout``.
        name: prefix of the layer names.

    Returns:
        The symbolic ``(batch, spec.feature_dim)`` feature.

    Raises:
        ValueError: when the input is not a rank-1 vector (without batch) of
            known size.

    Example:
        >>> from fdkd_tf.config import ModelSpec
        >>> spec = ModelSpec("mlp", feature_dim=32, hidden_units=[64])
        >>> mlp_features(keras.Input((76,)), spec).shape
        (None, 32)
    """
    input_shape = tuple(inputs.shape[1:])
    if len(input_shape) != 1:
        raise ValueError(
            f"arch 'mlp' expects vectors of shape (features,), got input_shape "
            f"{input_shape} of rank {len(input_shape)}; use arch 'small_cnn' or "
            "'resnet18' for image views, or flatten the view to a vector"
        )
    if input_shape[0] is None:
        raise ValueError(f"arch 'mlp' needs a known vector size, got input_shape {input_shape}")
    x = inputs
    for index, units in enumerate(spec.hidden_units):
        x = keras.layers.Dense(units, name=f"{name}_dense{index}")(x)
        x = keras.layers.ReLU(name=f"{name}_relu{index}")(x)
        if spec.dropout > 0:
            x = keras.layers.Dropout(spec.dropout, name=f"{name}_dropout{index}")(x)
    features = keras.layers.Dense(spec.feature_dim, name="features")(x)  # (batch, feature_dim)
    return {"features": features, "hint": x}  # hint: the last hidden activation (or the input)
