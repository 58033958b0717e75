"""Training precision (``train.precision``): Keras' global dtype policy, set for a block.

``mixed_float16`` and ``mixed_bfloat16`` keep every variable in float32 and compute
the students', teachers' and heads' layers in half precision; ``compile`` then wraps
the optimizer in a `LossScaleOptimizer` for float16 (bfloat16 has float32's range and
needs no loss scale). The method's own maths stays float32 whatever the policy: the
rfft/irfft decoupling and the standardization layers run under a float32 policy,
and every loss casts its inputs (logits included) to float32 first.
"""

from __future__ import annotations

import contextlib

import keras

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


@contextlib.contextmanager
def precision_policy(precision: str):
    """Sets Keras' global dtype policy to ``precision`` inside the block, then restores it.

    Layers take the global policy when they are built, so build the models inside
    the block; a model keeps its policy afterwards.

    Args:
        precision: ``float32 | mixed_float16 | mixed_bfloat16``.

    Raises:
        ValueError: for another name.

    Example:
        >>> with precision_policy("mixed_bfloat16"):
        ...     layer = keras.layers.Dense(2)
        >>> layer.compute_dtype
        'bfloat16'
    """
    if precision not in PRECISIONS:
        raise ValueError(f"train.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(precision)
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def float32_copy(model: keras.Model, build) -> keras.Model:
    """``model`` rebuilt in float32 with the same weights (a mixed-precision student
    saved this way reloads and predicts in float32).

    Args:
        model: a trained model, of any policy.
        build: a function of no argument that builds the same architecture.

    Returns:
        ``model`` itself when it already computes in float32, else the copy.
    """
    if model.dtype_policy.name == "float32":
        return model
    with precision_policy("float32"):
        copy = build()
    copy.set_weights(model.get_weights())
    return copy
