"""Builders shared by the distiller tests."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from testing_utils import paired_batch, tiny_classifier
from fdkd_tf.config import DistillConfig
from fdkd_tf.distillers import Direction, build_distiller

TEACHER_IN, STUDENT_IN, CLASSES = 10, 6, 4


def make_distiller(method: str, teacher_dim: int = 16, student_dim: int = 8, both: bool = False, **settings):
    """A distiller over tiny seeded MLPs; ``settings`` override the method section."""
    config = DistillConfig(method=method)
    section = getattr(config, method, None)
    for key, value in settings.items():
        setattr(section, key, value)
    teacher = tiny_classifier(TEACHER_IN, teacher_dim, CLASSES, "teacher_a", seed=1)
    student = tiny_classifier(STUDENT_IN, student_dim, CLASSES, "student_b", seed=2)
    directions = [Direction("b", "student", student, "teacher", teacher)]
    if both:
        reverse_teacher = tiny_classifier(STUDENT_IN, student_dim, CLASSES, "teacher_b", seed=3)
        reverse_student = tiny_classifier(TEACHER_IN, teacher_dim, CLASSES, "student_a", seed=4)
        directions.append(Direction("a", "teacher", reverse_student, "student", reverse_teacher))
    keras.utils.set_random_seed(5)
    return build_distiller(config, directions, CLASSES)


def batch_dataset(batch: int = 8, seed: int = 0, repeat: int = 1):
    inputs, labels = paired_batch(batch, TEACHER_IN, STUDENT_IN, CLASSES, seed)
    return tf.data.Dataset.from_tensors((inputs, labels)).repeat(repeat)


def weights_of(model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]
