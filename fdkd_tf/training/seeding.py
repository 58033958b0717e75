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


def seed_stage(seed: int, stage: str, deterministic: bool = False) -> None:
    """Reseeds before a stage builds its models, from ``(seed, stage)`` alone.

    The models' initial weights then do not depend on what ran before in the process
    (a stage trained here or restored from a checkpoint, a distribution strategy that
    draws random numbers of its own), so a resumed or multi-worker run builds the
    stage exactly as an uninterrupted single process does.
    """
    import zlib

    import numpy as np

    mixed = np.random.SeedSequence((int(seed) % 2**32, zlib.crc32(stage.encode()))).generate_state(1)[0]
    set_seed(int(mixed) % (2**31 - 1), deterministic)
