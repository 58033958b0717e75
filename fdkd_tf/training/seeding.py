"""Seeds and op determinism."""

from __future__ import annotations

import keras
import tensorflow as tf


def set_seed(seed: int, deterministic: bool = False) -> None:
    """Seeds Python, NumPy and TensorFlow (`keras.utils.set_random_seed`) and, when
    asked, makes TF ops deterministic (slower; same results run to run)."""
    keras.utils.set_random_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
