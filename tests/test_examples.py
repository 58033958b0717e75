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
