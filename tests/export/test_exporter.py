"""Export round trips of a trained mfeat run: every format, checked against Keras
with computations independent of the exporter, and the bad-input errors."""

from __future__ import annotations

import json
import os
import shutil

import keras
import numpy as np
import pytest
import tensorflow as tf
from ai_edge_litert.interpreter import Interpreter

from fdkd_tf.config import load_config
from fdkd_tf.data import build_datasets
from fdkd_tf.export import ExportError, export_run, format_report
from fdkd_tf.training.experiment import run_experiment

FAST = [
    "teacher.epochs=1",
    "train.epochs=2",
    "train.verbose=0",
    "model.teacher.filters=[8]",
    "model.teacher.feature_dim=16",
    "model.student.hidden_units=[64]",
    "model.student.feature_dim=32",
]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from testing_utils import REPO_ROOT

    run_dir = tmp_path_factory.mktemp("run")
    config = load_config(os.path.join(REPO_ROOT, "configs", "mfeat.yaml"), FAST)
    run_experiment(config, str(run_dir))
    report = export_run(str(run_dir), latency_samples=3, verbose=False)
    return run_dir, config, report


def _test_split(config):
    bundle = build_datasets(config.data, seed=0)
    inputs, labels = [], []
    for features, label in bundle.test.as_numpy_iterator():
        inputs.append(features["student"])
        labels.append(label)
    return bundle, np.concatenate(inputs), np.concatenate(labels)


def test_every_format_matches_keras(trained_run):
    run_dir, config, report = trained_run
    export_dir = run_dir / "export"
    _, inputs, labels = _test_split(config)
    student = keras.saving.load_model(run_dir / "student.keras")
    keras_logits = student(inputs)["logits"].numpy()
    keras_accuracy = float(np.mean(keras_logits.argmax(-1) == labels))

    # SavedModel: a named signature with a named input and both outputs.
    signature = tf.saved_model.load(str(export_dir / "saved_model")).signatures["serving_default"]
    assert set(signature.structured_input_signature[1]) == {"inputs"}
    outputs = signature(inputs=tf.constant(inputs))
    np.testing.assert_allclose(outputs["logits"].numpy(), keras_logits, atol=1e-5)
    probabilities = np.exp(keras_logits - keras_logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    np.testing.assert_allclose(outputs["probabilities"].numpy(), probabilities, atol=1e-5)

    results = {}
    for fmt, name in [("tflite", "student.tflite"), ("tflite_fp16", "student_fp16.tflite"), ("tflite_int8", "student_int8.tflite")]:
        runner = Interpreter(model_path=str(export_dir / name)).get_signature_runner("serving_default")
        logits = runner(inputs=inputs)["logits"]
        results[fmt] = logits
        entry = report["formats"][fmt]
        assert entry["verified"] and not entry["select_tf_ops"]
        assert entry["bytes"] == os.path.getsize(export_dir / name)
        assert entry["test_accuracy"] == pytest.approx(float(np.mean(logits.argmax(-1) == labels)))
        held_out = report["held_out_batch"]
        assert entry["max_abs_diff"] == pytest.approx(np.abs(logits[:held_out] - keras_logits[:held_out]).max(), rel=1e-4, abs=1e-7)
    # Goals: fp32 parity; int8 close in accuracy and much smaller than fp32.
    assert np.abs(results["tflite"] - keras_logits).max() <= 1e-4
    assert report["keras"]["test_accuracy"] == pytest.approx(keras_accuracy)
    assert abs(report["formats"]["tflite_int8"]["test_accuracy"] - keras_accuracy) <= 0.03
    assert np.abs(results["tflite_fp16"] - keras_logits).max() < 5e-2
    assert os.path.getsize(export_dir / "student_int8.tflite") < 0.5 * os.path.getsize(export_dir / "student.tflite")
    assert report["goals"]["fp32_max_abs_diff"]["met"]
    # int8 keeps a float interface and lists ops that had to stay float (none here).
    assert report["formats"]["tflite_int8"]["float_ops"] == []
    saved = json.loads((export_dir / "report.json").read_text())
    assert saved["formats"].keys() == report["formats"].keys()
    table = format_report(report)
    assert "tflite_int8" in table and "goal fp32_max_abs_diff" in table
    assert not [n for n in os.listdir(export_dir) if n.startswith(".")]  # no staging left behind


def test_int8_is_calibrated_on_the_training_split(trained_run, monkeypatch):
    run_dir, config, _ = trained_run
    from fdkd_tf.export import exporter

    seen = {}
    original = exporter.export_model

    def recording(model, output_dir, formats, test_inputs, test_labels=None, representative=None, **kwargs):
        seen["representative"] = representative
        seen["test"] = test_inputs
        raise RuntimeError("stop before converting")

    monkeypatch.setattr(exporter, "export_model", recording)
    with pytest.raises(RuntimeError, match="stop"):
        exporter.export_run(str(run_dir), "tflite_int8", representative_samples=50, verbose=False)
    bundle = build_datasets(config.data, seed=0)
    np.testing.assert_array_equal(seen["representative"], bundle.representative_inputs("train", "student", 50))
    assert seen["test"].shape[0] == bundle.sizes["test"]
    monkeypatch.setattr(exporter, "export_model", original)


def test_output_dir_keeps_an_export_with_other_scales_beside_the_default(trained_run, tmp_path):
    run_dir, config, report = trained_run
    assert report["int8_weight_scales"] == "dense_per_tensor"
    before = _snapshot(run_dir / "export")
    target = tmp_path / "int8-per_channel"
    other = export_run(str(run_dir), "tflite_int8", int8_scales="per_channel", output_dir=str(target), latency_samples=2, verbose=False)
    assert _snapshot(run_dir / "export") == before
    assert sorted(os.listdir(target)) == ["report.json", "student_int8.tflite"]
    assert json.loads((target / "report.json").read_text())["int8_weight_scales"] == "per_channel"
    # Per-channel scales on the MLP's dense layers cost bytes and buy nothing here.
    default_bytes = report["formats"]["tflite_int8"]["bytes"]
    assert other["formats"]["tflite_int8"]["bytes"] > default_bytes
    _, inputs, _ = _test_split(config)
    runner = Interpreter(model_path=str(target / "student_int8.tflite")).get_signature_runner("serving_default")
    int8_classes = runner(inputs=inputs)["logits"].argmax(-1)
    keras_classes = keras.saving.load_model(run_dir / "student.keras")(inputs)["logits"].numpy().argmax(-1)
    assert other["formats"]["tflite_int8"]["agreement"] == pytest.approx(float(np.mean(int8_classes == keras_classes)))


def _snapshot(directory):
    return {name: os.path.getmtime(os.path.join(directory, name)) for name in os.listdir(directory)}


def test_bad_input_raises_one_clear_error_and_writes_nothing(trained_run, tmp_path):
    run_dir, _, _ = trained_run
    before = _snapshot(run_dir / "export")
    with pytest.raises(ExportError, match="unknown export format 'onnx'"):
        export_run(str(run_dir), "tflite,onnx", verbose=False)
    with pytest.raises(ExportError, match="representative_samples"):
        export_run(str(run_dir), "tflite_int8", representative_samples=0, verbose=False)
    with pytest.raises(ExportError, match="audio front end"):
        export_run(str(run_dir), "tflite", with_preprocessing=True, verbose=False)
    with pytest.raises(ExportError, match="unknown int8 weight-scale mode 'per_row'"):
        export_run(str(run_dir), "tflite_int8", int8_scales="per_row", verbose=False)
    assert _snapshot(run_dir / "export") == before

    untrained = tmp_path / "untrained"
    untrained.mkdir()
    shutil.copy(run_dir / "config.yaml", untrained / "config.yaml")
    with pytest.raises(ExportError, match="no trained student"):
        export_run(str(untrained), verbose=False)
    with pytest.raises(ExportError, match="not a run directory"):
        export_run(str(tmp_path), verbose=False)
    assert sorted(os.listdir(untrained)) == ["config.yaml"]

    # int8 with no data: the run's data root is gone.
    no_data = tmp_path / "no_data"
    no_data.mkdir()
    for name in ("student.keras", "metrics.json"):
        shutil.copy(run_dir / name, no_data / name)
    text = (run_dir / "config.yaml").read_text().replace("root: null", f"root: {tmp_path / 'missing'}")
    (no_data / "config.yaml").write_text(text)
    with pytest.raises(ExportError, match="int8 calibration"):
        export_run(str(no_data), "tflite_int8", verbose=False)
    assert not (no_data / "export").exists()
