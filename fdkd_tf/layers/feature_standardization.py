"""Feature standardization and the signed logarithm (paper Eq. 6-7).

``Std(x) = (x - mean(x)) / ||x - mean(x)||_2`` per sample, over the feature axis.
Both modalities are brought to the unit sphere so that distillation compares the
direction of a feature, not its scale (the paper's scale-consistency argument,
Fig. 1). It is an L2 normalisation, not a division by the standard deviation.

Written with `keras.ops` only, so it runs on every Keras backend. Standardisation
is a float32 island under mixed precision: `standardize` computes in and returns
float32, and `FeatureStandardization` defaults to a float32 dtype policy.
"""

from __future__ import annotations

import keras
from keras import ops


def standardize(features, epsilon: float = 1e-8):
    """Per-sample mean subtraction and L2 normalisation over the last axis.

    The input is cast to float32 first and the result is float32, not the input's
    dtype: the losses that consume it run in float32, and a half-precision squared
    norm would underflow or overflow for small or large features.

    Args:
        features: ``(..., dim)`` tensor.
        epsilon: floor of the L2 norm (a zero vector stays zero, no NaN gradient).

    Returns:
        float32 tensor with the shape of ``features`` whose last-axis vectors are
        zero-mean, unit-norm.

    Example:
        >>> import numpy as np
        >>> y = standardize(np.array([[1.0, 2.0, 3.0]], "float32"))
        >>> [round(v, 4) for v in np.asarray(y)[0].tolist()]
        [-0.7071, 0.0, 0.7071]
    """
    features = ops.cast(ops.convert_to_tensor(features), "float32")
    centered = features - ops.mean(features, axis=-1, keepdims=True)
    # As tf.math.l2_normalize(centered, -1, epsilon**2): the *squared* norm is
    # floored at epsilon**2, so the norm is floored at epsilon.
    square_sum = ops.sum(ops.square(centered), axis=-1, keepdims=True)
    return centered * ops.rsqrt(ops.maximum(square_sum, epsilon**2))


def signed_log1p(values):
    """``sign(t) * log(1 + |t|)`` elementwise (paper Eq. 6, sigma).

    Compresses large differences so the high-band loss has bounded gradients.

    Example:
        >>> import numpy as np
        >>> y = signed_log1p(np.array([-1.0, 0.0, 1.0], "float32"))
        >>> [round(v, 4) for v in np.asarray(y).tolist()]
        [-0.6931, 0.0, 0.6931]
    """
    values = ops.convert_to_tensor(values)
    return ops.sign(values) * ops.log1p(ops.abs(values))


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FeatureStandardization(keras.layers.Layer):
    """Keras layer over `standardize` (optionally followed by `signed_log1p`).

    The layer runs in float32 whatever the global dtype policy: without an explicit
    ``dtype`` it takes the ``"float32"`` policy, so Keras casts half-precision
    inputs up instead of autocasting them down, and its outputs are float32.

    Args:
        epsilon: floor of the L2 norm.
        signed_log: apply `signed_log1p` after standardising (the high-band path).
        **kwargs: standard `keras.layers.Layer` arguments; ``dtype`` defaults to
            ``"float32"``.

    Example:
        >>> import numpy as np
        >>> y = FeatureStandardization()(np.random.default_rng(0).normal(size=(2, 16)))
        >>> bool(np.all(np.abs(np.linalg.norm(np.asarray(y), axis=-1) - 1.0) < 1e-5))
        True
    """

    def __init__(self, epsilon: float = 1e-8, signed_log: bool = False, **kwargs):
        kwargs.setdefault("dtype", "float32")  # float32 island under mixed precision
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.signed_log = signed_log

    def call(self, inputs):
        outputs = standardize(inputs, self.epsilon)
        return signed_log1p(outputs) if self.signed_log else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def compute_output_spec(self, inputs):
        # float32 even under an explicit half-precision policy: `standardize` returns float32.
        return keras.KerasTensor(tuple(inputs.shape), dtype="float32")

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "signed_log": self.signed_log})
        return config
