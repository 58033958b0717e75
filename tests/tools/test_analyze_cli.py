"""tools/analyze.py: the three subcommands on tiny untrained models, and its errors."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from fdkd_tf.config import ModelSpec, load_config
from fdkd_tf.data import build_datasets
from fdkd_tf.models import build_classifier
from testing_utils import REPO_ROOT

TINY = [
    "model.teacher.filters=[4]",
    "model.teacher.feature_dim=8",
    "model.student.hidden_units=[8]",
    "model.student.feature_dim=8",
]


def _tool(repo_root):
    spec = importlib.util.spec_from_file_location("analyze_tool", os.path.join(repo_root, "tools", "analyze.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A fake run directory: config.yaml, both teachers' best weights, student.keras."""
    import keras

    from fdkd_tf.config import dump_config

    root = tmp_path_factory.mktemp("run")
    config = load_config(os.path.join(REPO_ROOT, "configs", "mfeat.yaml"), TINY)
    (root / "config.yaml").write_text(dump_config(config))
    bundle = build_datasets(config.data, seed=0)
    keras.utils.set_random_seed(0)
    for key, spec in (("teacher", config.model.teacher), ("student", config.model.student)):
        modality = bundle.modalities[key]
        model = build_classifier(spec, bundle.input_shapes[key], bundle.num_classes, name=f"teacher_{modality}")
        folder = root / "checkpoints" / f"teacher_{modality}"
        folder.mkdir(parents=True)
        model.save_weights(str(folder / f"best_{modality}.weights.h5"))
    student = build_classifier(config.model.student, bundle.input_shapes["student"], bundle.num_classes, name="student_fou")
    student.save(str(root / "student.keras"))
    wide = build_classifier(ModelSpec("mlp", feature_dim=16, hidden_units=[8]), bundle.input_shapes["student"],
                            bundle.num_classes, name="wide_fou")
    wide.save_weights(str(root / "fou16.weights.h5"))  # a 16-d feature, for the size mismatch
    return root


def test_similarity_from_checkpoints_matches_numpy(repo_root, tiny_run, tmp_path, capsys):
    tool = _tool(repo_root)
    pix = tiny_run / "checkpoints" / "teacher_pix" / "best_pix.weights.h5"
    fou = tiny_run / "checkpoints" / "teacher_fou" / "best_fou.weights.h5"
    args = ["similarity", "--config", os.path.join(repo_root, "configs", "mfeat.yaml"), *sum((["--set", s] for s in TINY), []),
            "--teacher-a", str(pix), "--teacher-b", str(fou), "--output", str(tmp_path)]
    assert tool.main(args) == 0
    summary = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "similarity.json").read_text())
    assert saved["models"] == ["teacher_pix", "teacher_fou"] and saved["samples"] == 400
    assert len(saved["per_bin"]) == 5 and saved["decoupling"]["low_bins"] == [1, 2]
    assert summary["similarity"] == saved["similarity"]
    assert "| Original features |" in (tmp_path / "similarity.md").read_text()
    assert (tmp_path / "similarity_per_bin.png").stat().st_size > 5000

    # The same numbers from the raw features, computed independently with numpy.
    config = load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), TINY)
    bundle = build_datasets(config.data, seed=0)
    models = {}
    for key, spec, path in (("teacher", config.model.teacher, pix), ("student", config.model.student, fou)):
        models[key] = build_classifier(spec, bundle.input_shapes[key], bundle.num_classes, name=key)
        models[key].load_weights(str(path))
    features = {key: [] for key in models}
    for inputs, _ in bundle.test:
        for key, model in models.items():
            features[key].append(np.asarray(model(inputs[key], training=False)["features"]))
    a, b = (np.concatenate(features[key]).astype(np.float64) for key in ("teacher", "student"))
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    raw = np.mean(np.where(norms > 0, np.sum(a * b, 1) / np.where(norms > 0, norms, 1.0), 0.0))  # zero vector -> 0
    assert saved["similarity"]["raw"]["mean"] == pytest.approx(raw, abs=1e-5)


def test_run_dir_feature_means_and_tsne(repo_root, tiny_run, tmp_path):
    tool = _tool(repo_root)
    assert tool.main(["feature-means", "--run-dir", str(tiny_run), "--output", str(tmp_path / "means")]) == 0
    means = json.loads((tmp_path / "means" / "feature_means.json").read_text())
    assert list(means["models"]) == ["teacher_pix", "teacher_fou"]  # auto: both teachers exist
    assert (tmp_path / "means" / "feature_means.png").is_file()
    assert tool.main(["tsne", "--run-dir", str(tiny_run), "--run-dir", str(tiny_run), "--max-samples", "30",
                      "--output", str(tmp_path / "tsne")]) == 0
    panels = json.loads((tmp_path / "tsne" / "tsne.json").read_text())["panels"]
    assert len(panels) == 2 and panels[0]["models"] == ["teacher_pix", "student_fou"]
    assert panels[0]["points_per_model"] == 30


def test_output_defaults_to_the_run_directorys_analysis_folder(repo_root, tiny_run, tmp_path, capsys):
    tool = _tool(repo_root)
    assert tool.main(["feature-means", "--run-dir", str(tiny_run)]) == 0  # as the README prints it
    assert (tiny_run / "analysis" / "feature_means.json").is_file()
    assert tool.main(["feature-means", "--config", "configs/mfeat.yaml", "--teacher-a", "a.weights.h5",
                      "--teacher-b", "b.weights.h5"]) == 2
    assert "give --output DIR" in capsys.readouterr().err


def test_errors_are_one_line_and_name_the_problem(repo_root, tiny_run, tmp_path, capsys):
    tool = _tool(repo_root)
    config = os.path.join(repo_root, "configs", "mfeat.yaml")
    pix = str(tiny_run / "checkpoints" / "teacher_pix" / "best_pix.weights.h5")
    fou = str(tiny_run / "checkpoints" / "teacher_fou" / "best_fou.weights.h5")
    tiny = sum((["--set", s] for s in TINY), [])

    def error_of(*args):
        assert tool.main(list(args)) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]  # progress lines come before it
        assert err.startswith("error: ")
        return err

    assert "--teacher-b: checkpoint not found: /nope.weights.h5" in error_of(
        "similarity", "--config", config, *tiny, "--teacher-a", pix, "--teacher-b", "/nope.weights.h5", "--output", str(tmp_path))
    assert "holds the weights of modality 'fou'" in error_of(  # checkpoints swapped
        "similarity", "--config", config, *tiny, "--teacher-a", fou, "--teacher-b", pix, "--output", str(tmp_path))
    assert "mismatched feature sizes: teacher_pix gives 8-d features and teacher_fou 16-d" in error_of(
        "similarity", "--config", config, *tiny, "--set", "model.student.feature_dim=16",
        "--teacher-a", pix, "--teacher-b", str(tiny_run / "fou16.weights.h5"), "--output", str(tmp_path))
    assert "cannot load" in error_of(  # 8-d weights into the 16-d model of the config
        "similarity", "--config", config, *tiny, "--set", "model.student.feature_dim=16",
        "--teacher-a", pix, "--teacher-b", fou, "--output", str(tmp_path))
    assert "not a run directory" in error_of("similarity", "--run-dir", str(tmp_path), "--output", str(tmp_path))
    assert "give --run-dir DIR, or --config CFG" in error_of("feature-means", "--config", config, "--output", str(tmp_path))

    other = tmp_path / "other-run"
    other.mkdir()
    text = (tiny_run / "config.yaml").read_text().replace("student: fou", "student: kar")
    (other / "config.yaml").write_text(text)
    assert "mismatched modalities" in error_of("tsne", "--run-dir", str(tiny_run), "--run-dir", str(other), "--output", str(tmp_path))


def test_help_runs_as_a_script(repo_root):
    result = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "analyze.py"), "similarity", "--help"],
                            capture_output=True, text=True, timeout=120, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 0 and "--teacher-a" in result.stdout and "--projection" in result.stdout
