"""The two-stage experiment: run directory contents (resume after a kill: test_checkpointing.py),
selection on validation data only."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import yaml

from fdkd_tf.config import load_config
from fdkd_tf.training import experiment

FAST = [
    "teacher.epochs=2",
    "train.epochs=4",
    "train.verbose=0",
    "model.teacher.filters=[8]",
    "model.teacher.feature_dim=16",
    "model.student.hidden_units=[16]",
    "model.student.feature_dim=16",
]


def _config(repo_root, *extra):
    return load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), FAST + list(extra))


def test_run_directory_and_metrics(repo_root, tmp_path):
    metrics = experiment.run_experiment(_config(repo_root, "train.epochs=2"), str(tmp_path))
    for name in ["config.yaml", "metrics.json", "student.keras"]:
        assert (tmp_path / name).is_file(), name
    assert os.listdir(tmp_path / "logs" / "distill")  # TensorBoard event files
    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert saved["method"] == "fdcmkd" and saved["seed"] == 0
    assert 0.0 <= saved["teacher"]["test_accuracy"] <= 1.0
    assert 1 <= saved["student"]["best_epoch"] <= 2
    state = json.loads((tmp_path / "checkpoints" / "distill" / "state.json").read_text())
    assert state["best"]["fou"]["epoch"] == saved["student"]["best_epoch"]
    # The saved student is the best-on-validation one and reproduces its accuracy.
    student = keras.saving.load_model(tmp_path / "student.keras")
    bundle = experiment.build_datasets(_config(repo_root).data, seed=0)
    assert experiment.evaluate_accuracy(student, bundle.val, "student") == pytest.approx(
        saved["student"]["val_accuracy"]
    )
    assert saved["student"]["val_accuracy"] == pytest.approx(state["best"]["fou"]["val_accuracy"])


def test_accuracy_counts_every_sample_and_traces_the_model_once():
    """10 samples in batches of 4: the last batch of 2 reuses the first trace."""
    traces = []

    class Counted(keras.Model):  # the inputs are the logits
        def call(self, inputs):
            traces.append(inputs.shape)  # runs once per trace, not per batch
            return {"logits": tf.identity(inputs)}

    x = np.random.default_rng(0).normal(size=(10, 2)).astype("float32")
    y = np.array([0, 1, 1, 0, 1, 0, 0, 1, 1, 1], dtype="int64")
    dataset = tf.data.Dataset.from_tensor_slices(({"student": x}, y)).batch(4)
    expected = float(np.mean(np.argmax(x, axis=-1) == y))
    assert experiment.evaluate_accuracy(Counted(), dataset, "student") == pytest.approx(expected)
    assert len(traces) == 1


def test_mixed_precision_run_learns_and_saves_a_float32_student(repo_root, tmp_path):
    config = _config(
        repo_root, "train.epochs=3", "train.learning_rate=0.03", "train.steps_per_execution=2",
        "train.precision=mixed_float16",
    )
    metrics = experiment.run_experiment(config, str(tmp_path / "mixed"))
    assert keras.config.dtype_policy().name == "float32"  # the run restores the global policy
    # Chance is 0.1; float32 reaches 0.46 here. Unscaled float16 gradients (32,768x too
    # small) would leave the student at its initial accuracy.
    assert metrics["student"]["val_accuracy"] > 0.3
    student = keras.saving.load_model(tmp_path / "mixed" / "student.keras")
    assert {layer.dtype_policy.name for layer in student.layers} == {"float32"}
    bundle = experiment.build_datasets(config.data, seed=0)
    inputs, _ = next(iter(bundle.val))
    assert student(inputs["student"])["logits"].dtype == "float32"
    assert experiment.evaluate_accuracy(student, bundle.val, "student") == pytest.approx(
        metrics["student"]["val_accuracy"], abs=0.01  # float32 inference of float16-trained weights
    )


def test_run_directory_of_another_config_is_refused(repo_root, tmp_path):
    experiment.run_experiment(_config(repo_root, "train.epochs=1", "teacher.epochs=1"), str(tmp_path))
    with pytest.raises(ValueError, match="different config"):
        experiment.run_experiment(_config(repo_root, "train.epochs=1", "teacher.epochs=1", "distill.method=kd"), str(tmp_path))


def test_caches_are_recorded_and_a_run_written_before_the_cache_keys_resumes(repo_root, tmp_path):
    config = _config(repo_root, "train.epochs=1", "teacher.epochs=1")
    metrics = experiment.run_experiment(config, str(tmp_path))
    assert metrics["caches"]["teacher"]["mode"] == "memory"  # mfeat: a frozen teacher, no augmentation
    assert metrics["caches"]["inputs"]["mode"] == "off" and "in-memory" in metrics["caches"]["inputs"]["reason"]
    assert not (tmp_path / "cache").exists()  # nothing on disk in memory mode
    written = yaml.safe_load((tmp_path / "config.yaml").read_text())
    del written["data"]["cache"], written["distill"]["teacher_cache"]  # as an older version wrote it
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(written))
    assert experiment.run_experiment(config, str(tmp_path))["student"] == metrics["student"]  # resumed, not refused
    with pytest.raises(ValueError, match="different config"):  # a changed key still refuses
        experiment.run_experiment(_config(repo_root, "train.epochs=1", "teacher.epochs=1", "distill.teacher_cache=off"), str(tmp_path))


def test_teacher_checkpoint_is_loaded_not_retrained(repo_root, tmp_path):
    first = experiment.run_experiment(_config(repo_root, "train.epochs=1"), str(tmp_path / "a"))
    weights = tmp_path / "a" / "checkpoints" / "teacher_pix" / "best_pix.weights.h5"
    second = experiment.run_experiment(
        _config(repo_root, "train.epochs=1", f"teacher.checkpoint={weights}"), str(tmp_path / "b")
    )
    assert second["teacher"]["test_accuracy"] == pytest.approx(first["teacher"]["test_accuracy"])
    assert not (tmp_path / "b" / "checkpoints" / "teacher_pix").exists()
    with pytest.raises(FileNotFoundError, match="teacher.checkpoint"):
        experiment.run_experiment(
            _config(repo_root, "train.epochs=1", "teacher.checkpoint=missing.weights.h5"), str(tmp_path / "c")
        )


def test_a_saved_teacher_from_anywhere_is_used_as_it_is(repo_root, tmp_path):
    """model.teacher.arch: saved — a plain Keras classifier trained outside the project:
    stage 1 only evaluates it, and its reported accuracy is keras' evaluate on the split."""
    config = _config(repo_root, "train.epochs=1", "data.teacher=fac")
    bundle = experiment.build_datasets(config.data, seed=0)
    keras.utils.set_random_seed(0)
    mine = keras.Sequential([keras.Input((216,)), keras.layers.Dense(32, activation="relu", name="penultimate"), keras.layers.Dense(10)])
    mine.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                 metrics=[keras.metrics.SparseCategoricalAccuracy()])
    only_teacher = lambda dataset: dataset.map(lambda x, y: (x["teacher"], y))  # noqa: E731
    mine.fit(only_teacher(bundle.train), epochs=3, verbose=0)
    mine.save(tmp_path / "teacher.keras")
    saved = _config(repo_root, "train.epochs=1", "data.teacher=fac", "model.teacher.arch=saved",
                    f"model.teacher.path={tmp_path / 'teacher.keras'}", "model.teacher.feature_layer=penultimate")
    metrics = experiment.run_experiment(saved, str(tmp_path / "run"))
    assert not (tmp_path / "run" / "checkpoints" / "teacher_fac").exists()  # stage 1 did not train
    for split in ("val", "test"):
        _, accuracy = mine.evaluate(only_teacher(bundle.split(split)), verbose=0)
        assert metrics["teacher"][f"{split}_accuracy"] == pytest.approx(accuracy, abs=1e-6)
    assert metrics["teacher"]["best_epoch"] is None

    # The same teacher as a SavedModel directory whose signature returns the features beside the logits.
    views = keras.Model(mine.inputs, {"features": mine.get_layer("penultimate").output, "logits": mine.outputs[0]})
    views.export(str(tmp_path / "teacher_savedmodel"), verbose=False)
    from_graph = _config(repo_root, "train.epochs=1", "data.teacher=fac", "model.teacher.arch=saved",
                         f"model.teacher.path={tmp_path / 'teacher_savedmodel'}", "model.teacher.feature_layer=features")
    graph_metrics = experiment.run_experiment(from_graph, str(tmp_path / "run_savedmodel"))
    for split in ("val", "test"):
        assert graph_metrics["teacher"][f"{split}_accuracy"] == pytest.approx(metrics["teacher"][f"{split}_accuracy"], abs=1e-6)
    mine.export(str(tmp_path / "logits_only"), verbose=False)
    logits_only = _config(repo_root, "train.epochs=1", "data.teacher=fac", "model.teacher.arch=saved",
                          f"model.teacher.path={tmp_path / 'logits_only'}", "model.teacher.feature_layer=penultimate")
    with pytest.raises(experiment.ConfigError, match=r"model\.teacher\.feature_layer.*has no output 'penultimate'.*its outputs are: output_0"):
        experiment.run_experiment(logits_only, str(tmp_path / "bad_graph"))
    missing = _config(repo_root, "model.teacher.arch=saved", "model.teacher.feature_layer=penultimate")
    with pytest.raises(experiment.ConfigError, match=r"model\.teacher\.path"):
        experiment.run_experiment(missing, str(tmp_path / "bad"))
