"""Element order of the input pipelines: fixed when asked, free otherwise."""

from __future__ import annotations

from typing import Optional

import numpy as np
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


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one training epoch's shuffle and augmentation: a function of
    ``(seed, epoch)`` alone, so a resumed process draws the same order for epoch
    ``epoch`` as the process that was killed (and so does every strategy)."""
    return int(np.random.SeedSequence((int(seed) % 2**32, int(epoch))).generate_state(1)[0]) % (2**31 - 1)


def training_order(seed: int, epoch: Optional[int]) -> tuple[int, bool]:
    """``(tf.data seed, reshuffle each iteration)`` of a training pipeline.

    ``epoch=None`` gives the pipeline that reshuffles at every pass (its passes
    depend on how many came before in this process); an ``epoch`` gives that epoch's
    order, fixed by `epoch_seed`, the same at every pass.
    """
    if epoch is None:
        return int(seed) % (2**31 - 1), True
    return epoch_seed(seed, epoch), False


def shuffled_with_seeds(table: tf.data.Dataset, shuffle_buffer: int, seed: Optional[int], epoch: Optional[int], training: bool) -> tf.data.Dataset:
    """``(element, element_seed)`` pairs: a training table shuffled in the order of
    `training_order` with a random int64 seed per element for its augmentation;
    an evaluation table in file order with seed 0 for every element."""
    base_seed, reshuffle = training_order(int(seed or 0), epoch)
    if training:
        table = table.shuffle(shuffle_buffer, seed=base_seed, reshuffle_each_iteration=reshuffle)
        seeds = tf.data.Dataset.random(seed=base_seed + 1, rerandomize_each_iteration=reshuffle)
    else:
        seeds = tf.data.Dataset.from_tensors(tf.constant(0, tf.int64)).repeat()
    return tf.data.Dataset.zip((table, seeds))
