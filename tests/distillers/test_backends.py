"""The method core on Keras' other backends: the same step under JAX as under TensorFlow.

Each backend runs in its own subprocess (`backend_step.py`), because Keras fixes its
backend at import. The JAX (and torch) run blocks every TensorFlow import, so it also checks
that ``fdkd_tf.layers``, ``fdkd_tf.losses`` and ``fdkd_tf.distillers`` import and
train without TensorFlow installed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from testing_utils import REPO_ROOT

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "backend_step.py")


def _run(backend: str, output: str, *flags: str) -> dict:
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=REPO_ROOT, CUDA_VISIBLE_DEVICES="", JAX_PLATFORMS="cpu")
    completed = subprocess.run(
        [sys.executable, SCRIPT, output, *flags], env=env, capture_output=True, text=True, timeout=300
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    with np.load(output) as results:
        return {key: results[key] for key in results.files}


@pytest.fixture(scope="module")
def tensorflow_step(tmp_path_factory):
    return _run("tensorflow", str(tmp_path_factory.mktemp("tensorflow") / "tf.npz"))


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_step_equals_tensorflow_step_without_tensorflow(backend, tensorflow_step, tmp_path):
    """JAX is in requirements.txt; torch (kept out of it) is checked where installed."""
    pytest.importorskip(backend)
    other = _run(backend, str(tmp_path / f"{backend}.npz"), "--block-tensorflow")
    assert str(tensorflow_step["backend"]) == "tensorflow" and str(other["backend"]) == backend
    assert not bool(other["tensorflow_imported"])
    assert set(other) == set(tensorflow_step)
    logged = [key for key in tensorflow_step if "/log/" in key]
    assert {"fdcmkd/log/low", "fdcmkd/log/high", "fdcmkd/log/align_low_t", "kd/log/kd", "feat/log/feat"} <= set(logged)
    for key in logged:
        np.testing.assert_allclose(other[key], tensorflow_step[key], atol=1e-5, rtol=0, err_msg=key)
    for key in (k for k in tensorflow_step if "/weight/" in k):
        np.testing.assert_allclose(other[key], tensorflow_step[key], atol=1e-5, rtol=0, err_msg=key)
