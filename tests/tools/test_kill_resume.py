"""SIGKILL of the real training process, inside a checkpoint write and at a random
moment: rerunning the printed command gives the uninterrupted run, bit for bit."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest

# configs/mfeat.yaml in deterministic mode with narrow models and 12 + 24 epochs (a few
# seconds of training after TensorFlow's import); dropout's saved random state is
# covered in tests/training/test_checkpointing.py.
ARGS = ["--config", "configs/mfeat.yaml", "--set", "experiment.deterministic=true", "--set", "teacher.epochs=12",
        "--set", "train.epochs=24", "--set", "model.teacher.filters=[8]", "--set", "model.student.hidden_units=[16]",
        "--verbose", "0"]

# Runs tools/train.py in this process after arranging a SIGKILL inside the checkpoint
# commit of STAGE at EPOCH: before state.json is replaced ("weights") or right after ("state").
KILLING_LAUNCHER = """
import os, signal, sys
from fdkd_tf.training import checkpointing
stage, epoch, moment = sys.argv[1], int(sys.argv[2]), sys.argv[3]
original = checkpointing.commit
def commit(directory, state, previous):
    if directory.endswith(stage) and state["epoch"] == epoch:
        if moment == "state":
            checkpointing.write_json(os.path.join(directory, checkpointing.STATE_FILE), state)
        os.kill(os.getpid(), signal.SIGKILL)
    return original(directory, state, previous)
checkpointing.commit = commit
from fdkd_tf.cli.train import main
sys.exit(main(sys.argv[4:]))
"""


def _env():
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")


def _train(repo_root, output_dir, timeout=600):
    return subprocess.run([sys.executable, os.path.join(repo_root, "tools", "train.py"), *ARGS, "--output-dir", str(output_dir)],
                          cwd=repo_root, env=_env(), capture_output=True, text=True, timeout=timeout)


def _weights(run_dir):
    return keras.saving.load_model(os.path.join(run_dir, "student.keras")).get_weights()


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    from testing_utils import REPO_ROOT as repo_root

    run_dir = tmp_path_factory.mktemp("uninterrupted")
    result = _train(repo_root, run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    return run_dir


def _assert_equal_runs(a, b):
    assert max(float(np.max(np.abs(x - y))) for x, y in zip(_weights(a), _weights(b))) == 0.0
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    assert ma["student"] == mb["student"] and ma["teacher"] == mb["teacher"]


def _killed_in_commit(repo_root, run_dir, stage, epoch, moment):
    killed = subprocess.run([sys.executable, "-c", KILLING_LAUNCHER, stage, str(epoch), moment, *ARGS,
                             "--output-dir", str(run_dir)], cwd=repo_root, env=_env(), capture_output=True, text=True, timeout=600)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (run_dir / "metrics.json").exists()


def test_sigkill_inside_checkpoint_writes_and_at_a_random_moment(repo_root, tmp_path, reference):
    """One run killed three times, each resume by the same command: inside stage 1's
    10th commit (weights written, state not), inside stage 2's 8th commit (state
    replaced, stable names not relinked), then at a random moment (seeded) after the
    rerun's first new epoch; the last rerun finishes it, bit for bit the uninterrupted run."""
    _killed_in_commit(repo_root, tmp_path, "teacher_pix", 10, "weights")
    state = tmp_path / "checkpoints" / "teacher_pix" / "state.json"
    assert json.loads(state.read_text())["epoch"] == 9
    _killed_in_commit(repo_root, tmp_path, "distill", 8, "state")
    state = tmp_path / "checkpoints" / "distill" / "state.json"
    assert json.loads(state.read_text())["epoch"] == 8
    process = subprocess.Popen([sys.executable, os.path.join(repo_root, "tools", "train.py"), *ARGS, "--output-dir", str(tmp_path)],
                               cwd=repo_root, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while process.poll() is None and time.time() < deadline and json.loads(state.read_text())["epoch"] == 8:
        time.sleep(0.05)
    time.sleep(float(np.random.default_rng(13).uniform(0.0, 0.3)))  # 16 epochs of about 0.1 s remain
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the rerun finished before the kill"
    resumed = _train(repo_root, tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _assert_equal_runs(reference, tmp_path)


def test_mirrored_on_one_device_equals_the_default_strategy(repo_root, tmp_path):
    """``--strategy mirrored`` over this process's one CPU trains the same batches and
    the same weights as the default strategy (each epoch's pipeline is seeded by its
    epoch, so a batch Keras draws ahead under a strategy shifts nothing)."""
    small = ["--set", "teacher.epochs=2", "--set", "train.epochs=3"]
    runs = {strategy: tmp_path / strategy for strategy in ("default", "mirrored")}
    both = ("import sys\nfrom fdkd_tf.cli.train import main\n"  # one process, one TensorFlow import
            "for strategy, out in (('default', sys.argv[1]), ('mirrored', sys.argv[2])):\n"
            "    assert main([*sys.argv[3:], '--strategy', strategy, '--output-dir', out]) == 0\n")
    result = subprocess.run([sys.executable, "-c", both, str(runs["default"]), str(runs["mirrored"]), *ARGS, *small],
                            cwd=repo_root, env=_env(), capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    _assert_equal_runs(runs["default"], runs["mirrored"])
