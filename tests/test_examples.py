"""The scripts under examples/ run as a user runs them, on their random data."""

from __future__ import annotations

import os
import subprocess
import sys

import keras
import numpy as np


def test_distill_your_own_models(repo_root, tmp_path):
    script = os.path.join(repo_root, "examples", "distill_your_own_models.py")
    result = subprocess.run([sys.executable, script, "--output", str(tmp_path), "--epochs", "2"], cwd=tmp_path,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "student validation accuracy" in result.stdout
    student = keras.saving.load_model(tmp_path / "student.keras")  # the user's own Sequential, not a wrapper
    assert isinstance(student, keras.Sequential)
    assert tuple(student(np.zeros((2, 12), "float32")).shape) == (2, 4)


def test_distill_from_the_cli(repo_root, tmp_path):
    """Manifest CSV + saved .keras teacher through tools/train.py: the teacher is evaluated, not trained."""
    import json

    script = os.path.join(repo_root, "examples", "distill_from_the_cli.py")
    result = subprocess.run([sys.executable, script, "--output", str(tmp_path), "--epochs", "1"], cwd=tmp_path,
                            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "running: " in result.stdout and "tools/train.py --config" in result.stdout
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["teachers"]["image"]["best_epoch"] is None  # stage 1 skipped
    assert not (tmp_path / "run" / "checkpoints" / "teacher_image").exists()
    assert (tmp_path / "run" / "student.keras").is_file()
