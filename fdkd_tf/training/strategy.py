"""Distribution strategies by name (``--strategy``)."""

from __future__ import annotations

import tensorflow as tf

STRATEGIES = ("auto", "default", "mirrored", "multi_worker")


def make_strategy(name: str = "auto") -> tf.distribute.Strategy:
    """Returns the `tf.distribute.Strategy` for ``name``.

    ``auto`` picks `MirroredStrategy` when two or more GPUs are visible and the
    default (single-device) strategy otherwise; ``multi_worker`` reads the cluster
    from ``TF_CONFIG``.

    Args:
        name: one of ``auto | default | mirrored | multi_worker``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")
    if name == "auto":
        name = "mirrored" if len(tf.config.list_logical_devices("GPU")) >= 2 else "default"
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()
