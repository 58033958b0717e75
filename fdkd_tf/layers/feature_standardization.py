"""Feature standardization and the signed logarithm (paper Eq. 6-7).

``Std(x) = (x - mean(x)) / ||x - mean(x)||_2`` per sample, over the feature axis.
Both modalities are brought to the unit sphere so that distillation compares the
direction of a feature, not its scale (the paper's scale-consistency argument,
Fig. 1). It is an L2 normalisation, not a division by the standard deviation.
"""

from __future__ import annotations

import keras
import tensorflow as tf


def standardize(features, epsilon: float = 1e-8):
    """Per-sample mean subtraction and L2 normalisation over the last axis.

    Args:
        features: ``(..., dim)`` tensor.
        epsilon: floor of the L2 norm (a zero vector stays zero, no NaN gradient).

    Returns:
        Tensor like ``features`` whose last-axis vectors are zero-mean, unit-norm.

    Example:
        >>> y = standardize(tf.constant([[1.0, 2.0, 3.0]]))
        >>> [round(v, 4) for v in y.numpy()[0].tolist()]
        [-0.7071, 0.0, 0.7071]
    """
    features = tf.convert_to_tensor(features)
    centered = features - tf.reduce_mean(features, axis=-1, keepdims=True)
    # l2_normalize floors the *squared* norm, so epsilon**2 floors the norm at epsilon.
    return tf.math.l2_normalize(centered, axis=-1, epsilon=epsilon**2)


def signed_log1p(values):
    """``sign(t) * log(1 + |t|)`` elementwise (paper Eq. 6, sigma).

    Compresses large differences so the high-band loss has bounded gradients.

    Example:
        >>> signed_log1p(tf.constant([-1.0, 0.0, 1.0])).numpy().round(4).tolist()
        [-0.6931, 0.0, 0.6931]
    """
    values = tf.convert_to_tensor(values)
    return tf.sign(values) * tf.math.log1p(tf.abs(values))


@keras.saving.register_keras_serializable(package="fdkd_tf")
class FeatureStandardization(keras.layers.Layer):
    """Keras layer over `standardize` (optionally followed by `signed_log1p`).

    Args:
        epsilon: floor of the L2 norm.
        signed_log: apply `signed_log1p` after standardising (the high-band path).
        **kwargs: standard `keras.layers.Layer` arguments.

    Example:
        >>> y = FeatureStandardization()(tf.random.normal((2, 16)))
        >>> bool(tf.reduce_all(tf.abs(tf.norm(y, axis=-1) - 1.0) < 1e-5))
        True
    """

    def __init__(self, epsilon: float = 1e-8, signed_log: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon
        self.signed_log = signed_log

    def call(self, inputs):
        outputs = standardize(inputs, self.epsilon)
        return signed_log1p(outputs) if self.signed_log else outputs

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"epsilon": self.epsilon, "signed_log": self.signed_log})
        return config
