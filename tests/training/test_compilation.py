"""compile_distiller: the config's optimizer and execution keys reach Keras."""

from __future__ import annotations

import pytest

from testing_utils import tiny_classifier
from fdkd_tf.config import TrainConfig
from fdkd_tf.distillers import Direction
from fdkd_tf.distillers.none import NoDistillation
from fdkd_tf.training.compilation import compile_distiller


def _trainer():
    return NoDistillation([Direction("a", "student", tiny_classifier(6, 8, 3, "student_a", seed=0))], num_classes=3)


@pytest.mark.parametrize("accumulation,expected", [(1, None), (4, 4)])
def test_execution_keys_reach_compile_and_the_optimizer(accumulation, expected):
    trainer = _trainer()
    train = TrainConfig(jit_compile=True, steps_per_execution=3, gradient_accumulation_steps=accumulation, optimizer="adam")
    compile_distiller(trainer, train, steps_per_epoch=10, epochs=5)
    assert trainer.jit_compile is True and trainer.steps_per_execution == 3
    assert trainer.optimizer.gradient_accumulation_steps == expected
    assert type(trainer.optimizer).__name__ == "Adam"


def test_auto_jit_compile_follows_keras_rule_on_this_cpu():
    trainer = _trainer()
    compile_distiller(trainer, TrainConfig(), steps_per_epoch=10, epochs=5)
    assert trainer.jit_compile is False  # Keras' "auto": no XLA for TensorFlow on a CPU-only machine
