"""Tiny image classifiers and batches for the feature-baseline distiller tests
(small CNN teacher; small CNN or MLP student)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from distiller_helpers import CLASSES, STUDENT_IN
from testing_utils import tiny_classifier
from fdkd_tf.config import DistillConfig, ModelSpec
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.models import build_classifier

IMAGE_SHAPE = (6, 5, 1)


def small_cnn(name: str, seed: int, filters, feature_dim: int):
    """A seeded small CNN on `IMAGE_SHAPE` images (hint: the last conv block's map)."""
    keras.utils.set_random_seed(seed)
    spec = ModelSpec(arch="small_cnn", filters=list(filters), feature_dim=feature_dim)
    return build_classifier(spec, IMAGE_SHAPE, CLASSES, name=name)


def make_image_distiller(method: str, student_arch: str = "small_cnn", **settings):
    """Teacher: 2-block CNN (hint 2x2x6, feature 12); student: 1-block CNN (hint
    3x3x3, feature 8) or an MLP on ``STUDENT_IN`` vectors (hint 16, feature 8)."""
    config = DistillConfig(method=method)
    section = getattr(config, method)
    for key, value in settings.items():
        setattr(section, key, value)
    teacher = small_cnn("teacher_image", 1, (4, 6), 12)
    if student_arch == "small_cnn":
        student = small_cnn("student_image", 2, (3,), 8)
    else:
        student = tiny_classifier(STUDENT_IN, 8, CLASSES, "student_vector", seed=2)
    keras.utils.set_random_seed(5)
    return build_distiller(config, [Direction("b", "student", student, "teacher", teacher)], CLASSES)


def image_dataset(student_arch: str = "small_cnn", batch: int = 8, repeat: int = 1, seed: int = 0):
    rng = np.random.default_rng(seed)
    student_shape = IMAGE_SHAPE if student_arch == "small_cnn" else (STUDENT_IN,)
    inputs = {
        "teacher": rng.normal(size=(batch, *IMAGE_SHAPE)).astype("float32"),
        "student": rng.normal(size=(batch, *student_shape)).astype("float32"),
    }
    labels = rng.integers(0, CLASSES, size=batch).astype("int32")
    return tf.data.Dataset.from_tensors((inputs, labels)).repeat(repeat)
