"""``--with-preprocessing``: the audio front end (waveform -> log spectrogram) inside
the exported graph of an audio student, checked against the front end's pure
function followed by the Keras student."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf
import yaml

from fdkd_tf.config import config_from_dict, dump_config, load_config
from fdkd_tf.export import ExportError, export_run
from fdkd_tf.layers.audio_frontend import REFERENCE_NUM_SAMPLES, reference_spectrogram
from fdkd_tf.models import build_classifier

CREMAD_SAMPLE_RATE = 22050


@pytest.fixture(scope="module")
def audio_run(tmp_path_factory):
    """A CREMA-D-shaped run directory: config + an untrained tiny audio student.

    Only ``config.yaml``, ``metrics.json`` and ``student.keras`` are read by the
    front-end export, so no CREMA-D data is needed.
    """
    from testing_utils import REPO_ROOT

    run_dir = tmp_path_factory.mktemp("cremad_run")
    tree = yaml.safe_load(dump_config(load_config(os.path.join(REPO_ROOT, "configs", "mfeat.yaml"))))
    tree["data"].update(name="cremad", root=str(run_dir / "data"), teacher="visual", student="audio")
    tree["model"]["student"].update(arch="small_cnn", filters=[4], feature_dim=8)
    config = config_from_dict(tree)
    (run_dir / "config.yaml").write_text(dump_config(config))
    (run_dir / "metrics.json").write_text("{}")
    tf.keras.utils.set_random_seed(0)
    student = build_classifier(config.model.student, (257, 1004, 1), 6, name="student_audio")
    student.save(run_dir / "student.keras")
    return run_dir, student


def test_front_end_export_takes_raw_waveforms(audio_run):
    run_dir, student = audio_run
    report = export_run(str(run_dir), "saved_model,tflite", with_preprocessing=True, latency_samples=2, verbose=False)
    assert report["frontend"]["kind"] == "reference" and report["frontend"]["sample_rate"] == CREMAD_SAMPLE_RATE
    assert report["input"] == {"name": "waveform", "shape": [None, REFERENCE_NUM_SAMPLES], "dtype": "float32"}

    rng = np.random.default_rng(1)
    waveforms = (0.3 * rng.normal(size=(2, REFERENCE_NUM_SAMPLES))).astype("float32")
    spectrograms = reference_spectrogram(waveforms, CREMAD_SAMPLE_RATE)[..., None]  # (2, 257, 1004, 1)
    expected = student(spectrograms)["logits"].numpy()
    signature = tf.saved_model.load(str(run_dir / "export" / "saved_model")).signatures["serving_default"]
    np.testing.assert_allclose(signature(waveform=tf.constant(waveforms))["logits"].numpy(), expected, atol=1e-4)
    assert report["formats"]["saved_model"]["max_abs_diff"] == 0.0

    entry = report["formats"]["tflite"]
    assert json.loads((run_dir / "export" / "report.json").read_text())["with_preprocessing"] is True
    # The whole front end lowers to TFLite builtins (no Flex ops, which the
    # ai-edge-litert wheel could not run).
    assert not entry["select_tf_ops"], entry["ops"]
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(run_dir / "export" / "student.tflite")).get_signature_runner("serving_default")
    np.testing.assert_allclose(runner(waveform=waveforms)["logits"], expected, atol=1e-4)
    assert "RFFT2D" in entry["ops"]  # the FFT is a TFLite builtin
    assert entry["max_abs_diff"] <= 1e-4


def test_front_end_int8_needs_waveforms(audio_run):
    run_dir, _ = audio_run
    before = sorted(os.listdir(run_dir))
    with pytest.raises(ExportError, match="raw training waveforms"):
        export_run(str(run_dir), "tflite_int8", with_preprocessing=True, verbose=False)
    with pytest.raises(ExportError, match="needed for verification"):
        export_run(str(run_dir), "tflite", verbose=False)  # no CREMA-D data: nothing to verify on
    assert sorted(os.listdir(run_dir)) == before


def _tensor_dtypes(path, op_name):
    """dtypes of the outputs of every ``op_name`` op in a TFLite file."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    dtypes = {detail["index"]: np.dtype(detail["dtype"]) for detail in interpreter.get_tensor_details()}
    return {dtypes[i] for op in interpreter._get_ops_details() if op["op_name"] == op_name for i in op["outputs"]}


def test_front_end_stays_float_in_int8(audio_run, tmp_path):
    run_dir, student = audio_run
    rng = np.random.default_rng(2)
    # Loud and quiet clips: an 8-bit waveform or magnitude spectrum would lose the quiet ones.
    gains = np.array([0.5, 0.05, 0.005, 0.3, 0.02, 0.002])[:, None]
    calibration = (gains * rng.normal(size=(6, REFERENCE_NUM_SAMPLES))).astype("float32")
    report = export_run(
        str(run_dir), "tflite_int8", with_preprocessing=True, representative_waveforms=calibration,
        output_dir=str(tmp_path / "export"), latency_samples=1, verbose=False,
    )
    assert report["int8_float_layers"] == ["audio_frontend"]
    path = tmp_path / "export" / "student_int8.tflite"
    assert _tensor_dtypes(path, "LOG") == {np.dtype("float32")}  # the front end computes in float32
    assert _tensor_dtypes(path, "CONV_2D") == {np.dtype("int8")}  # the network in int8
    from ai_edge_litert.interpreter import Interpreter

    waveforms = (gains * rng.normal(size=(6, REFERENCE_NUM_SAMPLES))).astype("float32")
    expected = student(reference_spectrogram(waveforms, CREMAD_SAMPLE_RATE)[..., None])["logits"].numpy()
    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    logits = runner(waveform=waveforms)["logits"]
    spread = expected.max() - expected.min()
    assert np.abs(logits - expected).max() < 0.1 * spread, (logits, expected)


def test_a_real_run_exports_its_own_front_end_and_scores_real_audio(tmp_path):
    """A CREMA-D run trained with data.audio_samples=11025 (the registry's fixture):
    the front end maps the run's own length, and the raw-audio graph's test accuracy,
    measured on the prepared clips, is the run's own test accuracy."""
    import warnings

    from fdkd_tf.data import dataset_info
    from fdkd_tf.training.experiment import run_experiment
    from testing_utils import REPO_ROOT

    data_keys = dataset_info("cremad").fixture(str(tmp_path / "data"))
    overrides = [f"data.{key}={value}" for key, value in data_keys.items() if key != "name"]
    config = load_config(os.path.join(REPO_ROOT, "configs", "cremad.yaml"), overrides + [
        "data.audio_samples=11025", "teacher.epochs=1", "train.epochs=1", "train.verbose=0",
        "model.teacher.arch=small_cnn", "model.teacher.filters=[4]", "model.teacher.feature_dim=8",
        "model.student.arch=small_cnn", "model.student.filters=[4]", "model.student.feature_dim=8",
        "model.teacher.preset=null", "model.student.preset=null",
    ])
    run_dir = tmp_path / "run"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixture split sizes are not the release's
        metrics = run_experiment(config, str(run_dir))
        report = export_run(str(run_dir), "tflite,tflite_int8", with_preprocessing=True, latency_samples=1, verbose=False)
    assert report["waveform_samples"] == 11025 and report["frontend"]["num_samples"] == 11025
    assert "prepared waveforms" in report["verification_inputs"]
    assert report["representative_source"].startswith("the first ") and "prepared training waveforms" in report["representative_source"]
    assert report["keras"]["test_accuracy"] == pytest.approx(metrics["student"]["test_accuracy"])
    assert report["formats"]["tflite"]["test_accuracy"] == pytest.approx(metrics["student"]["test_accuracy"])
