"""keras-tuner search over the distiller: a 2-trial search whose best.yaml trains,
an interrupted search that resumes, the shared teacher, and the errors."""

from __future__ import annotations

import csv
import os

import keras
import keras_tuner
import numpy as np
import pytest

from fdkd_tf.config import load_config
from fdkd_tf.training import experiment
from fdkd_tf.training.stages import build_teacher
from fdkd_tf.tuning import SearchError, format_trials, run_search
from fdkd_tf.tuning import hypermodel as hypermodel_module
from fdkd_tf.tuning.hypermodel import (
    apply_hyperparameters,
    load_trained_weights,
    save_trained_weights,
    trained_variables,
    trial_weights_path,
)

FAST = [
    "teacher.epochs=1",
    "train.epochs=1",
    "train.verbose=0",
    "model.teacher.filters=[8]",
    "model.teacher.feature_dim=16",
    "model.student.hidden_units=[16]",
    "model.student.feature_dim=16",
    "tune.lambda1_min=1.0",
    "tune.lambda1_max=1e3",
]


def _config(repo_root, *extra):
    return load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), FAST + list(extra))


class _Killed(BaseException):
    """Stands for a kill: not an `Exception`, so keras-tuner does not record a failed trial."""


@pytest.fixture(scope="module")
def resumed_search(tmp_path_factory):
    """A 2-trial random search killed inside its second trial, then rerun to the end.

    Returns what each half did, so that one search serves the resume, output and
    refusal tests.
    """
    from testing_utils import REPO_ROOT

    search_dir = tmp_path_factory.mktemp("tune") / "search"
    patch = pytest.MonkeyPatch()
    sampled = []
    original_fit = hypermodel_module.DistillerHyperModel.fit

    def killed_in_second_trial(self, hp, model, *args, **kwargs):
        sampled.append(dict(hp.values))
        if len(sampled) == 2:
            raise _Killed()
        return original_fit(self, hp, model, *args, **kwargs)

    patch.setattr(hypermodel_module.DistillerHyperModel, "fit", killed_in_second_trial)
    with pytest.raises(_Killed):
        run_search(_config(REPO_ROOT), str(search_dir), "random", max_trials=2)
    interrupted = {
        "trials_csv": (search_dir / "trials.csv").exists(),
        "teacher_stamp": os.path.getmtime(search_dir / "teacher" / "checkpoints" / "teacher_pix" / "best_pix.weights.h5"),
    }
    patch.setattr(hypermodel_module.DistillerHyperModel, "fit", original_fit)
    fitted = []
    original_model_fit = keras.Model.fit

    def recording_fit(self, *args, **kwargs):
        fitted.append(self.name)
        return original_model_fit(self, *args, **kwargs)

    patch.setattr(keras.Model, "fit", recording_fit)
    try:
        result = run_search(_config(REPO_ROOT), str(search_dir), "random", max_trials=2)
    finally:
        patch.undo()
    return {"dir": search_dir, "sampled": sampled, "interrupted": interrupted, "fitted": fitted, "result": result}


def test_interrupted_search_resumes_without_rerunning_finished_work(resumed_search):
    search_dir, result = resumed_search["dir"], resumed_search["result"]
    assert not resumed_search["interrupted"]["trials_csv"]
    # Only the interrupted trial runs again: no teacher stage, no finished trial.
    assert resumed_search["fitted"] == ["fdcmkd_distiller"]
    teacher_weights = search_dir / "teacher" / "checkpoints" / "teacher_pix" / "best_pix.weights.h5"
    assert os.path.getmtime(teacher_weights) == resumed_search["interrupted"]["teacher_stamp"]
    assert [row["status"] for row in result["trials"]] == ["COMPLETED", "COMPLETED"]
    assert result["trials"][1]["lambda1"] == pytest.approx(resumed_search["sampled"][1]["lambda1"])


def test_search_writes_trials_and_a_best_config_that_trains(resumed_search, tmp_path):
    search_dir, result = resumed_search["dir"], resumed_search["result"]
    teacher_weights = search_dir / "teacher" / "checkpoints" / "teacher_pix" / "best_pix.weights.h5"
    with open(search_dir / "trials.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 and [r["status"] for r in rows] == ["COMPLETED"] * 2
    assert list(rows[0]) == ["trial_id", "status", "lambda1", "lambda2", "objective", "epochs", "seconds"]
    for row in rows:
        assert 1.0 <= float(row["lambda1"]) <= 1e3 and 0.1 <= float(row["lambda2"]) <= 1e4
        assert int(row["epochs"]) == 1 and float(row["seconds"]) > 0
    objectives = [float(r["objective"]) for r in rows]
    assert result["objective"] == "val_acc"
    assert result["best"]["objective"] == pytest.approx(max(objectives))
    # Trial folders hold only the trained weights, never the shared teacher.
    for trial_id in ("0", "1"):
        trial_dir = search_dir / "search" / f"trial_{trial_id}"
        assert (trial_dir / "checkpoint.trained.npz").is_file()
        assert not (trial_dir / "checkpoint.weights.h5").exists()
    assert "*" in format_trials(result)

    # best.yaml: the best trial's weights, the shared teacher, runnable as it is.
    best = load_config(search_dir / "best.yaml", ["train.verbose=0"])
    best_row = rows[int(np.argmax(objectives))]
    assert best.distill.fdcmkd.lambda1 == pytest.approx(float(best_row["lambda1"]))
    assert best.distill.fdcmkd.lambda2 == pytest.approx(float(best_row["lambda2"]))
    assert best.teacher.checkpoint == str(teacher_weights)
    metrics = experiment.run_experiment(best, str(tmp_path / "best_run"))
    assert not (tmp_path / "best_run" / "checkpoints" / "teacher_pix").exists()  # teacher loaded, not trained
    assert (tmp_path / "best_run" / "student.keras").is_file()
    assert 0.0 <= metrics["student"]["test_accuracy"] <= 1.0


def test_search_directory_of_another_config_or_tuner_is_refused(resumed_search, repo_root):
    search_dir = resumed_search["dir"]
    snapshot = {name: (search_dir / name).read_text() for name in ("search.json", "trials.csv", "best.yaml")}
    with pytest.raises(SearchError, match="different config"):
        run_search(_config(repo_root, "distill.fdcmkd.cutoff=0.25"), str(search_dir), "random", max_trials=2)
    with pytest.raises(SearchError, match="different tuner"):
        run_search(_config(repo_root), str(search_dir), "bayesian", max_trials=2)
    assert {name: (search_dir / name).read_text() for name in snapshot} == snapshot


def test_bad_arguments_fail_before_any_work(repo_root, tmp_path):
    with pytest.raises(SearchError, match="unknown tuner"):
        run_search(_config(repo_root), str(tmp_path / "a"), "grid", max_trials=1)
    with pytest.raises(SearchError, match="max-trials"):
        run_search(_config(repo_root), str(tmp_path / "b"), "random", max_trials=0)
    with pytest.raises(SearchError, match="distill.method"):
        run_search(_config(repo_root, "distill.method=kd"), str(tmp_path / "c"), "random", max_trials=1)
    assert not os.listdir(tmp_path)


def test_learning_rate_keeps_the_schedule_shape(repo_root):
    config = _config(repo_root, "train.learning_rate=0.01", "train.final_learning_rate=0.0001")
    trial = apply_hyperparameters(config, {"lambda1": 30.0, "lambda2": 0.5, "learning_rate": 0.1, "tuner/epochs": 3})
    assert (trial.distill.fdcmkd.lambda1, trial.distill.fdcmkd.lambda2) == (30.0, 0.5)
    assert trial.train.learning_rate == 0.1 and trial.train.final_learning_rate == pytest.approx(0.001)
    assert config.distill.fdcmkd.lambda1 == 1.0  # the base config is not modified


def test_trial_weights_exclude_the_shared_teacher(repo_root, tmp_path):
    from fdkd_tf.data import build_datasets

    config = _config(repo_root)
    bundle = build_datasets(config.data, seed=0)
    teacher = build_teacher(config, bundle, "teacher")
    model = hypermodel_module.DistillerHyperModel(config, bundle, {"teacher": teacher})
    first = model.build(keras_tuner.HyperParameters())
    teacher_ids = {id(v) for v in teacher.weights}
    variables = trained_variables(first)
    assert variables and not any(id(v) in teacher_ids for v in variables)
    assert len(variables) == len(first.weights) - len(teacher.weights)
    path = str(tmp_path / "trial.trained.npz")
    save_trained_weights(first, path)
    second = model.build(keras_tuner.HyperParameters())
    load_trained_weights(second, path)
    for a, b in zip(trained_variables(first), trained_variables(second)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert second.teachers[0] is teacher  # the same shared object in every trial

    # Hyperband continues a trial from that trial's own weights, not a whole-model file.
    from fdkd_tf.tuning.search import HyperbandTuner

    tuner = HyperbandTuner(
        hypermodel=model, objective=keras_tuner.Objective("val_acc", "max"), max_epochs=2,
        directory=str(tmp_path), project_name="hyperband", overwrite=True,
    )
    save_trained_weights(first, trial_weights_path(tuner._get_checkpoint_fname("0")))
    hp = keras_tuner.HyperParameters()
    hp.values.update({"tuner/trial_id": "0", "tuner/epochs": 2, "tuner/initial_epoch": 1})
    continued = tuner._build_hypermodel(hp)
    for a, b in zip(trained_variables(first), trained_variables(continued)):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_tune_section_is_validated(repo_root):
    from fdkd_tf.config import ConfigError

    with pytest.raises(ConfigError, match="'tune.lambda1_min' must not exceed tune.lambda1_max"):
        _config(repo_root, "tune.lambda1_min=1e4", "tune.lambda1_max=10")
    with pytest.raises(ConfigError, match="'tune.lambda2_min' must be > 0"):
        _config(repo_root, "tune.lambda2_min=0")
    assert _config(repo_root, "tune.tune_learning_rate=true").tune.tune_learning_rate is True


def test_trials_use_the_configured_precision_and_execution_keys(repo_root):
    from fdkd_tf.data import build_datasets

    config = _config(repo_root, "train.precision=mixed_float16", "train.gradient_accumulation_steps=2", "data.ignore_label=7")
    bundle = build_datasets(config.data, seed=0)
    teacher = build_teacher(config, bundle, "teacher")
    trial = hypermodel_module.DistillerHyperModel(config, bundle, {"teacher": teacher}).build(keras_tuner.HyperParameters())
    assert trial.students[0].compute_dtype == "float16" and trial.dtype_policy.name == "mixed_float16"
    assert isinstance(trial.optimizer, keras.optimizers.LossScaleOptimizer)
    assert trial.optimizer.inner_optimizer.gradient_accumulation_steps == 2
    assert trial.ignore_label == 7  # the trial's distiller gets data.ignore_label, as a run's does
    assert keras.config.dtype_policy().name == "float32"
