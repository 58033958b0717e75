"""`DistillerHyperModel`: one keras-tuner trial = one distillation stage with sampled weights.

The teacher(s) are built and trained once, outside the search, and every trial's
distiller wraps the *same* frozen teacher objects; a trial only builds a fresh
student and the method's heads. Per-trial checkpoints hold only what the trial
trains (student, heads, projections), never the shared teacher.
"""

from __future__ import annotations

import copy
import math

import keras
import keras_tuner
import numpy as np
from keras_tuner.src.engine import tuner_utils

from fdkd_tf.config import ExperimentConfig
from fdkd_tf.files import atomic_path
from fdkd_tf.training.compilation import compile_distiller
from fdkd_tf.training.precision import precision_policy
from fdkd_tf.training.stages import build_distillation

#: the other input key of a paired batch


def apply_hyperparameters(config: ExperimentConfig, values: dict) -> ExperimentConfig:
    """A copy of ``config`` with a trial's sampled values set.

    ``lambda1`` / ``lambda2`` go to ``distill.fdcmkd``; ``learning_rate`` to
    ``train.learning_rate``, with ``train.final_learning_rate`` scaled by the same
    factor so the poly schedule keeps its shape (and stays valid).

    Args:
        config: the search's base config.
        values: ``HyperParameters.values`` of a trial (keras-tuner's own
            ``tuner/...`` entries are ignored).

    Returns:
        A new `ExperimentConfig`.
    """
    trial = copy.deepcopy(config)
    if "lambda1" in values:
        trial.distill.fdcmkd.lambda1 = float(values["lambda1"])
    if "lambda2" in values:
        trial.distill.fdcmkd.lambda2 = float(values["lambda2"])
    if "learning_rate" in values:
        factor = float(values["learning_rate"]) / config.train.learning_rate
        trial.train.learning_rate = float(values["learning_rate"])
        trial.train.final_learning_rate = config.train.final_learning_rate * factor
    return trial


def trained_variables(distiller) -> list:
    """The distiller's variables that a trial trains: everything but the teachers'."""
    teacher_ids = {id(v) for teacher in distiller.teachers for v in teacher.weights}
    return [v for v in distiller.weights if id(v) not in teacher_ids]


def trial_weights_path(checkpoint_path: str) -> str:
    """Where a trial's own weights go, beside keras-tuner's checkpoint name."""
    return checkpoint_path.replace(".weights.h5", "") + ".trained.npz"


def save_trained_weights(distiller, path: str) -> None:
    """Writes `trained_variables` to ``path`` (``.npz``), atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, *[np.asarray(v.numpy()) for v in trained_variables(distiller)])


def load_trained_weights(distiller, path: str) -> None:
    """Loads what `save_trained_weights` wrote into a distiller of the same trial shape."""
    variables = trained_variables(distiller)
    with np.load(path) as stored:
        values = [stored[f"arr_{index}"] for index in range(len(stored.files))]
    if len(values) != len(variables):
        raise ValueError(f"{path} holds {len(values)} arrays, the distiller trains {len(variables)}")
    for variable, value in zip(variables, values):
        variable.assign(value)


class SaveBestTrainedWeights(keras.callbacks.Callback):
    """keras-tuner's best-epoch checkpoint without the shared teacher.

    Replaces `SaveBestEpoch` in every trial: same objective and trigger, but only
    `trained_variables` are written (``<checkpoint>.trained.npz``).
    """

    def __init__(self, objective, filepath: str):
        super().__init__()
        self.objective = objective
        self.filepath = trial_weights_path(filepath)
        self.best_value = float("-inf") if objective.direction == "max" else float("inf")

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.objective.has_value(logs):
            value = self.objective.get_value(logs)
            if not self.objective.better_than(value, self.best_value):
                return
            self.best_value = value
        save_trained_weights(self.model, self.filepath)


class DistillerHyperModel(keras_tuner.HyperModel):
    """Builds the configured distiller with sampled ``lambda1``, ``lambda2`` (and learning rate).

    Args:
        config: the search's base config (``tune`` holds the ranges).
        bundle: the dataset, built once.
        teachers: ``{input key: frozen teacher}`` shared by every trial.
        **kwargs: `keras_tuner.HyperModel` arguments.
    """

    def __init__(self, config: ExperimentConfig, bundle, teachers: dict, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.bundle = bundle
        self.teachers = teachers

    def declare(self, hp) -> dict:
        """Declares the search space on ``hp`` and returns the sampled values."""
        tune = self.config.tune
        values = {
            "lambda1": hp.Float("lambda1", tune.lambda1_min, tune.lambda1_max, sampling="log"),
            "lambda2": hp.Float("lambda2", tune.lambda2_min, tune.lambda2_max, sampling="log"),
        }
        if tune.tune_learning_rate:
            values["learning_rate"] = hp.Float(
                "learning_rate", tune.learning_rate_min, tune.learning_rate_max, sampling="log"
            )
        return values

    def build(self, hp):
        """A fresh student (and heads) around the shared teacher, compiled."""
        trial_config = apply_hyperparameters(self.config, self.declare(hp))
        with precision_policy(trial_config.train.precision):  # the students and heads of a trial
            distiller, _, _ = build_distillation(trial_config, self.bundle, self.teachers)
        steps_per_epoch = max(math.ceil(self.bundle.sizes["train"] / trial_config.data.batch_size), 1)
        compile_distiller(distiller, trial_config.train, steps_per_epoch, trial_config.train.epochs)
        return distiller

    def fit(self, hp, model, *args, **kwargs):
        """`model.fit`, with keras-tuner's whole-model checkpoint swapped for `SaveBestTrainedWeights`."""
        callbacks = []
        for callback in kwargs.pop("callbacks", []):
            if isinstance(callback, tuner_utils.SaveBestEpoch):
                callback = SaveBestTrainedWeights(callback.objective, callback.filepath)
            callbacks.append(callback)
        return model.fit(*args, callbacks=callbacks, **kwargs)

