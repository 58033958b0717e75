"""The method core on Keras' other backends: the same step under JAX as under TensorFlow.

Each backend runs in its own subprocess (`backend_step.py`), because Keras fixes its
backend at import. The JAX run blocks every TensorFlow import, so it also checks
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


def test_jax_step_equals_tensorflow_step_without_tensorflow(tmp_path):
    pytest.importorskip("jax")
    tensorflow = _run("tensorflow", str(tmp_path / "tf.npz"))
    jax = _run("jax", str(tmp_path / "jax.npz"), "--block-tensorflow")
    assert str(tensorflow["backend"]) == "tensorflow" and str(jax["backend"]) == "jax"
    assert not bool(jax["tensorflow_imported"])
    assert set(jax) == set(tensorflow)
    logged = [key for key in tensorflow if "/log/" in key]
    assert {"fdcmkd/log/low", "fdcmkd/log/high", "fdcmkd/log/align_low_t", "kd/log/kd", "feat/log/feat"} <= set(logged)
    for key in logged:
        np.testing.assert_allclose(jax[key], tensorflow[key], atol=1e-5, rtol=0, err_msg=key)
    for key in (k for k in tensorflow if "/weight/" in k):
        np.testing.assert_allclose(jax[key], tensorflow[key], atol=1e-5, rtol=0, err_msg=key)
