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

import os

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


def load_saved(config: ExperimentConfig, input_key: str, role: str, input_shape=None) -> keras.Model:
    """``model.<side>.arch: saved``: the user's classifier, wrapped at its feature layer.

    ``model.<side>.path`` is a ``.keras`` file (any Keras classifier, logits out) or,
    for a teacher, a SavedModel directory whose signature returns the features under
    ``feature_layer`` beside the logits (`fdkd_tf.models.wrapping.wrap_saved_model`).

    Raises:
        ConfigError: naming ``model.<side>.path`` / ``feature_layer`` when missing,
            neither a ``.keras`` file nor a SavedModel directory, unreadable, or
            without that layer (output).
    """
    from fdkd_tf.config import ConfigError
    from fdkd_tf.models.wrapping import wrap_classifier, wrap_saved_model

    side = "teacher" if input_key == "teacher" else "student"
    spec = model_spec(config, input_key)
    if not spec.path or not spec.feature_layer:
        raise ConfigError(
            f"config key 'model.{side}.arch' is 'saved': set model.{side}.path (a .keras file or SavedModel "
            f"directory) and model.{side}.feature_layer"
        )
    is_saved_model = os.path.isfile(os.path.join(spec.path, "saved_model.pb"))
    if is_saved_model and role == "student":
        raise ConfigError(
            f"config key 'model.{side}.path': {spec.path} is a SavedModel, an inference graph that cannot be "
            "trained; give the student architecture as a .keras file (model.save('student.keras'))"
        )
    if not is_saved_model and (not spec.path.endswith(".keras") or not os.path.isfile(spec.path)):
        what = "not found" if not os.path.exists(spec.path) else "neither a .keras file nor a SavedModel directory (saved_model.pb)"
        raise ConfigError(f"config key 'model.{side}.path': {spec.path} is {what}")
    try:
        if is_saved_model:
            return wrap_saved_model(spec.path, spec.feature_layer, input_shape, name=f"{role}_{side}_saved")
        model = keras.saving.load_model(spec.path, compile=False)
    except ValueError as error:
        if str(error).startswith("wrap_saved_model"):
            raise ConfigError(f"config key 'model.{side}.feature_layer': {error}") from None
        raise ConfigError(f"config key 'model.{side}.path': cannot load {spec.path} ({str(error).splitlines()[0]})") from None
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file raises many kinds
        raise ConfigError(f"config key 'model.{side}.path': cannot load {spec.path} ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})") from None
    try:
        return wrap_classifier(model, spec.feature_layer, name=f"{role}_{side}_saved", input_shape=input_shape)
    except ValueError as error:
        raise ConfigError(f"config key 'model.{side}.feature_layer': {error}") from None


def build_teacher(config: ExperimentConfig, bundle: DatasetBundle, input_key: str) -> keras.Model:
    """The untrained teacher network of the modality read from ``input_key`` (or the
    user's saved one, ``arch: saved``)."""
    modality = bundle.modalities[input_key]
    if model_spec(config, input_key).arch == "saved":
        return load_saved(config, input_key, "teacher", bundle.input_shapes[input_key])
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
        if model_spec(config, student_key).arch == "saved":  # the user's own (untrained) architecture
            builders.append(functools.partial(load_saved, config, student_key, "student", bundle.input_shapes[student_key]))
        else:
            builders.append(functools.partial(
                build_classifier, model_spec(config, student_key), bundle.input_shapes[student_key],
                bundle.num_classes, name=f"student_{modality}",
            ))
        teacher_key = OTHER[student_key]
        directions.append(Direction(modality, student_key, builders[-1](), teacher_key, teachers.get(teacher_key)))
    distiller = build_distiller(config.distill, directions, bundle.num_classes, ignore_label=config.data.ignore_label)
    return distiller, directions, builders
