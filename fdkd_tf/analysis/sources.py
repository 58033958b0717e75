"""Which trained models an analysis compares, and how to load them.

An analysis reads models either from explicit checkpoints (``--config CFG
--teacher-a CKPT --teacher-b CKPT``: a ``.weights.h5`` of a classifier built from
``model.teacher`` on the teacher modality and one built from ``model.student`` on
the student modality) or from a run directory written by ``tools/train.py``,
whose layout `fdkd_tf.training.experiment` fixes: ``config.yaml``,
``checkpoints/teacher_<m>/best_<m>.weights.h5`` (or the ``teacher.checkpoint`` /
``teacher.reverse_checkpoint`` the run loaded instead) and ``student.keras``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.config import ConfigError, ExperimentConfig, ModelSpec, load_config
from fdkd_tf.files import RunDirectory

#: ``--pair`` choices for a run directory
PAIRS = ("auto", "teachers", "distilled")
_MODALITY_IN_NAME = re.compile(r"best_(?P<modality>[^/\\]+)\.weights\.h5$")


def _one_line(error: Exception, limit: int = 300) -> str:
    """An exception's message on one line, cut to ``limit`` characters."""
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class ModelSource:
    """One model to analyse: where its weights are and which input it reads.

    Attributes:
        name: display name, e.g. ``"teacher_pix"`` or ``"student_fou"``.
        modality: the view it reads (``bundle.modalities[input_key]``).
        input_key: ``"teacher"`` or ``"student"``, the key of the paired batch.
        path: a ``.weights.h5`` (needs ``spec``) or a whole ``.keras`` model.
        spec: the `ModelSpec` to build for a ``.weights.h5``; None for ``.keras``.
        origin: what named the file, for error messages (e.g. ``"--teacher-a"``).
    """

    name: str
    modality: str
    input_key: str
    path: str
    spec: Optional[ModelSpec]
    origin: str

    def load(self, input_shape: tuple, num_classes: int):
        """Builds (or reads) the model and loads its weights.

        Args:
            input_shape: shape of one input of ``input_key`` (from the bundle).
            num_classes: number of classes of the dataset.

        Returns:
            A keras model whose output dict holds ``"features"``.

        Raises:
            AnalysisError: when the file is missing or does not fit the model.
        """
        import keras

        from fdkd_tf.models import build_classifier

        if not os.path.isfile(self.path):
            raise AnalysisError(f"{self.origin}: checkpoint not found: {self.path}")
        if self.spec is None:
            try:
                model = keras.saving.load_model(self.path)
            except Exception as error:  # noqa: BLE001 - re-raised with the file named
                raise AnalysisError(f"{self.origin}: cannot load the model {self.path}: {_one_line(error)}") from None
            shape = tuple(model.inputs[0].shape[1:])
            if shape != tuple(input_shape):
                raise AnalysisError(
                    f"{self.origin}: {self.path} takes inputs of shape {shape}, but modality "
                    f"{self.modality!r} has shape {tuple(input_shape)}; the model belongs to another modality"
                )
            return model
        named = _MODALITY_IN_NAME.search(os.path.basename(self.path))
        if named and named.group("modality") != self.modality:
            raise AnalysisError(
                f"{self.origin}: {self.path} holds the weights of modality {named.group('modality')!r}, "
                f"but this model reads modality {self.modality!r}; swap the checkpoints or fix "
                "data.teacher / data.student"
            )
        model = build_classifier(self.spec, input_shape, num_classes, name=self.name)
        try:
            model.load_weights(self.path)
        except Exception as error:  # noqa: BLE001 - re-raised with the file named
            raise AnalysisError(
                f"{self.origin}: cannot load {self.path} into a {self.spec.arch} model of modality "
                f"{self.modality!r} (input {tuple(input_shape)}): {_one_line(error)}; the weights must come from "
                "a classifier of that modality and architecture"
            ) from None
        return model


def sources_from_checkpoints(config: ExperimentConfig, teacher_a: str, teacher_b: str) -> list[ModelSource]:
    """The two modalities' models from explicit ``.weights.h5`` files.

    Args:
        config: the experiment config (modalities and architectures).
        teacher_a: weights of ``model.teacher`` on ``data.teacher``.
        teacher_b: weights of ``model.student`` on ``data.student``.

    Returns:
        ``[source of a, source of b]``.

    Raises:
        AnalysisError: naming the flag whose file is missing.
    """
    sources = []
    for flag, path, key, spec in (
        ("--teacher-a", teacher_a, "teacher", config.model.teacher),
        ("--teacher-b", teacher_b, "student", config.model.student),
    ):
        if not path or not os.path.isfile(path):
            raise AnalysisError(f"{flag}: checkpoint not found: {path}")
        modality = getattr(config.data, key)
        sources.append(ModelSource(f"teacher_{modality}", modality, key, path, spec, flag))
    return sources


def load_run_config(run_dir: str, overrides: Optional[list[str]] = None) -> ExperimentConfig:
    """The resolved config of a run directory (``DIR/config.yaml``), with overrides.

    Raises:
        AnalysisError: when ``run_dir`` holds no ``config.yaml`` or it is invalid.
    """
    path = RunDirectory(run_dir).config
    if not os.path.isfile(path):
        raise AnalysisError(
            f"--run-dir {run_dir}: not a run directory (no config.yaml); give a directory written by tools/train.py"
        )
    try:
        return load_config(path, overrides or [])
    except ConfigError as error:
        raise AnalysisError(f"--run-dir {run_dir}: {error}") from None


def _teacher_source(run_dir: str, config: ExperimentConfig, input_key: str) -> ModelSource:
    modality = getattr(config.data, input_key)
    loaded = config.teacher.checkpoint if input_key == "teacher" else config.teacher.reverse_checkpoint
    path = loaded or RunDirectory(run_dir).path("checkpoints", f"teacher_{modality}", f"best_{modality}.weights.h5")
    spec = config.model.teacher if input_key == "teacher" else config.model.student
    return ModelSource(f"teacher_{modality}", modality, input_key, path, spec, f"--run-dir {run_dir}")


def _student_source(run_dir: str, config: ExperimentConfig) -> ModelSource:
    modality = config.data.student
    path = RunDirectory(run_dir).student_model()
    return ModelSource(f"student_{modality}", modality, "student", path, None, f"--run-dir {run_dir}")


def sources_from_run(run_dir: str, config: ExperimentConfig, pair: str = "auto") -> tuple[list[ModelSource], str]:
    """Two models of a run directory, one per modality.

    Args:
        run_dir: a directory written by ``tools/train.py``.
        config: its config (`load_run_config`).
        pair: ``teachers`` (the two unimodal teachers; needs ``direction: both``
            or ``teacher.reverse_checkpoint``), ``distilled`` (the teacher and the
            distilled ``student.keras``) or ``auto`` (teachers when both exist).

    Returns:
        ``([source of the teacher modality, source of the student modality], pair used)``.

    Raises:
        AnalysisError: for an unknown pair or a missing file.
    """
    if pair not in PAIRS:
        raise AnalysisError(f"--pair must be one of {', '.join(PAIRS)}, got {pair!r}")
    teacher = _teacher_source(run_dir, config, "teacher")
    if not os.path.isfile(teacher.path):
        raise AnalysisError(f"--run-dir {run_dir}: teacher checkpoint not found: {teacher.path}")
    reverse = _teacher_source(run_dir, config, "student")
    if pair == "auto":
        pair = "teachers" if os.path.isfile(reverse.path) else "distilled"
    if pair == "teachers":
        if not os.path.isfile(reverse.path):
            raise AnalysisError(
                f"--run-dir {run_dir}: no teacher for modality {reverse.modality!r} ({reverse.path} "
                "missing); train the run with --set distill.direction=both, or use --pair distilled"
            )
        return [teacher, reverse], pair
    student = _student_source(run_dir, config)
    if not os.path.isfile(student.path):
        raise AnalysisError(f"--run-dir {run_dir}: no student.keras ({student.path}); the run has not finished")
    return [teacher, student], pair
