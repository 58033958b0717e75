"""Element order of the input pipelines: fixed when asked, free otherwise."""

from __future__ import annotations

import tensorflow as tf


def with_determinism(dataset: tf.data.Dataset, deterministic: bool) -> tf.data.Dataset:
    """Sets ``tf.data.Options.deterministic`` on ``dataset``.

    With ``True`` parallel maps keep the input order (same batches run to run, for
    ``experiment.deterministic``); with ``False`` they may yield elements as soon as
    they are ready, which keeps slow decoders from stalling the pipeline.
    """
    options = tf.data.Options()
    options.deterministic = bool(deterministic)
    return dataset.with_options(options)
