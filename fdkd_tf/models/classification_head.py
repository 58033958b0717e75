"""ClassificationHead: ReLU -> Dense, the linear classifier on a pooled feature."""

from __future__ import annotations

import keras


def xavier_normal():
    """PyTorch's ``nn.init.xavier_normal_``: N(0, 2 / (fan_in + fan_out)), untruncated.

    Keras' ``GlorotNormal`` draws from a *truncated* normal; the reference code
    initialises its classifiers with the untruncated Xavier normal, so we spell it
    out as a ``VarianceScaling``.

    Returns:
        A `keras.initializers.VarianceScaling` initializer.

    Example:
        >>> kernel = xavier_normal()((512, 10))  # std ~ sqrt(2 / 522)
    """
    return keras.initializers.VarianceScaling(
        scale=1.0, mode="fan_avg", distribution="untruncated_normal"
    )


@keras.saving.register_keras_serializable(package="fdkd_tf")
class ClassificationHead(keras.layers.Layer):
    """ReLU followed by a Dense layer to ``num_classes`` logits.

    The backbones in `fdkd_tf.models` return their pooled feature *before* the
    final ReLU, because that pre-activation feature is what the distillation
    losses compare (its negative values carry information a ReLU would erase).
    The head therefore applies the ReLU itself, so ``head(features)`` equals the
    reference network's ``fc(relu(pool(x)))``. The Dense layer acts on the last
    axis, so the head works on pooled ``(batch, D)`` features and on feature maps
    ``(batch, H, W, D)`` alike; distillers reuse it for their extra heads.

    Args:
        num_classes: number of output logits.
        kernel_initializer: initializer of the Dense kernel; defaults to the
            untruncated Xavier/Glorot normal of the reference code.
        bias_initializer: initializer of the Dense bias; defaults to zeros.
        **kwargs: `keras.layers.Layer` arguments (``name``, ``dtype``, ...).

    Returns:
        Called on ``(..., D)`` features, the ``(..., num_classes)`` logits.

    Example:
        >>> import numpy as np
        >>> head = ClassificationHead(10)
        >>> tuple(head(np.zeros((4, 512), "float32")).shape)
        (4, 10)
    """

    def __init__(
        self,
        num_classes: int,
        kernel_initializer="xavier_normal",
        bias_initializer="zeros",
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes <= 0:
            raise ValueError(
                f"ClassificationHead num_classes must be a positive integer, got {num_classes!r}"
            )
        self.num_classes = num_classes
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        resolved_kernel_initializer = (
            xavier_normal() if kernel_initializer == "xavier_normal" else kernel_initializer
        )
        self.relu = keras.layers.ReLU(dtype=self.dtype_policy, name="relu")
        self.dense = keras.layers.Dense(
            num_classes,
            kernel_initializer=resolved_kernel_initializer,
            bias_initializer=bias_initializer,
            dtype=self.dtype_policy,
            name="dense",
        )

    def build(self, input_shape):
        self.dense.build(input_shape)

    def call(self, features):
        return self.dense(self.relu(features))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.num_classes,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "kernel_initializer": _serialize_initializer(self.kernel_initializer),
                "bias_initializer": _serialize_initializer(self.bias_initializer),
            }
        )
        return config


def _serialize_initializer(initializer):
    """Strings stay strings (``"xavier_normal"`` is ours); objects are serialized."""
    if isinstance(initializer, str):
        return initializer
    return keras.initializers.serialize(keras.initializers.get(initializer))
