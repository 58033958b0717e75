"""``--strategy multi_worker``: two worker processes on 127.0.0.1 with ``TF_CONFIG``
train the paired inputs, match one process with the same global batch, and only the
chief writes the run directory."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import keras
import numpy as np

# No batch normalisation: its statistics are per worker (each sees half the global
# batch), so only BN-free models can match one process exactly.
# A global batch of 240 gives 5 steps an epoch: each step is a cross-process all-reduce.
ARGS = ["--config", "configs/mfeat.yaml", "--set", "data.teacher=fac", "--set", "teacher.epochs=2", "--set", "train.epochs=2",
        "--set", "data.batch_size=240", "--set", "model.teacher.arch=mlp", "--set", "model.teacher.hidden_units=[32]",
        "--set", "model.student.hidden_units=[16]", "--verbose", "0"]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for handle in sockets:
        handle.bind(("127.0.0.1", 0))
    ports = [handle.getsockname()[1] for handle in sockets]
    for handle in sockets:
        handle.close()
    return ports


def _env(**extra):
    return dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", **extra)


def test_two_workers_match_one_process_and_only_the_chief_writes(repo_root, tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    run_dir, scratch = tmp_path / "run", tmp_path / "tmp"
    scratch.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.join(repo_root, "tools", "train.py"), *ARGS, "--strategy", "multi_worker",
             "--output-dir", str(run_dir)],
            cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}}), TMPDIR=str(scratch)),
        )
        for index in range(2)
    ]
    # The one-process reference runs meanwhile: the workers mostly wait on each other.
    single = subprocess.Popen([sys.executable, os.path.join(repo_root, "tools", "train.py"), *ARGS, "--output-dir", str(tmp_path / "one")],
                              cwd=repo_root, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outputs = [process.communicate(timeout=600) for process in (*workers, single)]
    for process, (_, err) in zip((*workers, single), outputs):
        assert process.returncode == 0, err[-3000:]
    assert not os.listdir(scratch)  # the non-chief worker's directory is gone
    a = keras.saving.load_model(run_dir / "student.keras").get_weights()
    b = keras.saving.load_model(tmp_path / "one" / "student.keras").get_weights()
    difference = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
    print(f"two workers vs one process: max student weight difference {difference:.2e}")  # docs/reliability.md (pytest -s)
    assert difference < 1e-5
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (run_dir, tmp_path / "one"))
    assert ma["student"]["best_epoch"] == mb["student"]["best_epoch"]
    assert abs(ma["student"]["test_accuracy"] - mb["student"]["test_accuracy"]) < 1e-9


def test_a_worker_that_dies_stops_the_others_with_one_line(repo_root, tmp_path):
    import signal
    import time

    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{port}" for port in ports]}
    long_run = [*ARGS, "--set", "teacher.epochs=500"]  # the last --set of a key wins: stage 1 outlives the kill
    workers = [
        subprocess.Popen(
            [sys.executable, os.path.join(repo_root, "tools", "train.py"), *long_run, "--strategy", "multi_worker",
             "--output-dir", str(tmp_path / "run")],
            cwd=repo_root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=_env(TF_CONFIG=json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})),
        )
        for index in range(2)
    ]
    state = tmp_path / "run" / "checkpoints" / "teacher_fac" / "state.json"
    deadline = time.time() + 300
    while not state.exists() and time.time() < deadline and workers[0].poll() is None:
        time.sleep(0.2)
    assert state.exists(), "the chief never committed an epoch"
    workers[1].send_signal(signal.SIGKILL)
    killed_at = time.time()
    _, err = workers[0].communicate(timeout=400)
    stopped_after = time.time() - killed_at
    print(f"the surviving worker stopped {stopped_after:.1f} s after the kill")  # docs/reliability.md (pytest -s)
    assert stopped_after < 120  # TensorFlow's heartbeats find the dead peer in seconds
    assert workers[0].returncode == 2 and "Traceback" not in err
    line = err.strip().splitlines()[-1]
    assert line.startswith("error: a worker of the cluster stopped during stage 'teacher_fac'") and "task:1" in line
    workers[1].wait(timeout=60)
