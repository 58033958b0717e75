"""``compile`` from the config: optimizer, XLA, steps per execution, gradient accumulation.

One place for both stages and for every tuning trial, so that ``train.jit_compile``,
``train.steps_per_execution`` and ``train.gradient_accumulation_steps`` mean the
same thing everywhere.
"""

from __future__ import annotations

from fdkd_tf.training.schedules import build_optimizer


def compile_distiller(distiller, train_config, steps_per_epoch: int, epochs: int) -> None:
    """Compiles ``distiller`` with the optimizer and execution settings of ``train_config``.

    Every method compiles under XLA (``train.jit_compile: true``); each is
    checked equal to the eager step in ``tests/distillers/test_keras_contract.py``.

    Args:
        distiller: a `fdkd_tf.distillers.Distiller` (or any `keras.Model` whose
            loss is its own).
        train_config: `fdkd_tf.config.TrainConfig`.
        steps_per_epoch: batches per epoch (the learning-rate schedule counts
            batches, also with gradient accumulation).
        epochs: length of the stage.
    """
    distiller.compile(
        optimizer=build_optimizer(train_config, steps_per_epoch, epochs),
        jit_compile=train_config.jit_compile,
        steps_per_execution=train_config.steps_per_execution,
    )
