"""What each stage builds from a config and a dataset bundle, in one place.

Training (`fdkd_tf.training.experiment`), tuning (`fdkd_tf.tuning`) and benchmarking
(through `run_experiment`) all build their teachers, directions and distiller here,
so that a setting such as ``data.ignore_label`` cannot reach one of them and miss
another.

- Stage 1 needs a teacher per modality that teaches: the teacher modality, and with
  ``direction: both`` the student modality too (`teacher_keys`). `build_teacher`
  makes its untrained network; `teacher_checkpoint` says which configured weights
  replace training it.
- Stage 2 pairs each student with the other modality's frozen teacher
  (`build_distillation`): one direction, or two for ``both``.
"""

from __future__ import annotations

import functools
from typing import Callable, Optional

import keras

from fdkd_tf.config import ExperimentConfig
from fdkd_tf.data import DatasetBundle
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.models import build_classifier

#: the other input key of a paired batch
OTHER = {"teacher": "student", "student": "teacher"}


def teacher_keys(config: ExperimentConfig) -> tuple[str, ...]:
    """Input keys whose modality needs a stage-1 teacher."""
    return ("teacher", "student") if config.distill.direction == "both" else ("teacher",)


def teacher_checkpoint(config: ExperimentConfig, input_key: str) -> Optional[str]:
    """The configured weights of the teacher read from ``input_key``, or None (train it)."""
    return config.teacher.checkpoint if input_key == "teacher" else config.teacher.reverse_checkpoint


def model_spec(config: ExperimentConfig, input_key: str):
    """The architecture of the modality read from ``input_key``."""
    return config.model.teacher if input_key == "teacher" else config.model.student


def build_teacher(config: ExperimentConfig, bundle: DatasetBundle, input_key: str) -> keras.Model:
    """The untrained teacher network of the modality read from ``input_key``."""
    modality = bundle.modalities[input_key]
    return build_classifier(model_spec(config, input_key), bundle.input_shapes[input_key], bundle.num_classes, name=f"teacher_{modality}")


def build_distillation(
    config: ExperimentConfig, bundle: DatasetBundle, teachers: dict
) -> tuple[keras.Model, list[Direction], list[Callable[[], keras.Model]]]:
    """Stage 2: fresh students around the frozen ``teachers``, and the distiller.

    Args:
        config: the experiment (or trial) config: ``distill`` (method, direction,
            settings), ``model``, ``data.ignore_label``.
        bundle: the data (shapes, classes, modalities).
        teachers: ``{input key: frozen teacher}`` from stage 1.

    Returns:
        ``(distiller, directions, builders)``; ``builders[i]()`` makes a fresh copy of
        direction ``i``'s student architecture (the float32 copy saved at the end).
    """
    directions, builders = [], []
    for student_key in ("student", "teacher") if config.distill.direction == "both" else ("student",):
        modality = bundle.modalities[student_key]
        builders.append(functools.partial(
            build_classifier, model_spec(config, student_key), bundle.input_shapes[student_key],
            bundle.num_classes, name=f"student_{modality}",
        ))
        teacher_key = OTHER[student_key]
        directions.append(Direction(modality, student_key, builders[-1](), teacher_key, teachers.get(teacher_key)))
    distiller = build_distiller(config.distill, directions, bundle.num_classes, ignore_label=config.data.ignore_label)
    return distiller, directions, builders
