"""End to end: ``tools/train.py`` on the embedded data, in a fresh process."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time


def _run(repo_root, *args, cwd=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run(
        [sys.executable, os.path.join(repo_root, "tools", "train.py"), *args],
        cwd=cwd or repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_train_writes_valid_metrics_and_a_reloadable_student(repo_root, tmp_path):
    result = _run(
        repo_root,
        "--config", "configs/mfeat.yaml",
        "--set", "teacher.epochs=2",
        "--set", "train.epochs=2",
        "--set", "distill.direction=both",
        "--set", "model.teacher.filters=[8]",
        "--set", "model.student.hidden_units=[16]",
        "--output-dir", str(tmp_path),
        "--verbose", "0",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["method"] == "fdcmkd" and metrics["seed"] == 0
    for role in ("teacher", "student"):
        assert 0.0 <= metrics[role]["test_accuracy"] <= 1.0
        assert metrics[role]["best_epoch"] in (1, 2)
    assert set(metrics["students"]) == {"fou", "pix"} and set(metrics["teachers"]) == {"pix", "fou"}
    assert (tmp_path / "student.keras").is_file() and (tmp_path / "student_pix.keras").is_file()
    config_text = (tmp_path / "config.yaml").read_text()
    assert "direction: both" in config_text and "epochs: 2" in config_text

    # student.keras reloads in a fresh interpreter with only `import fdkd_tf`.
    probe = (
        "import sys, numpy as np, fdkd_tf, keras\n"
        "m = keras.saving.load_model(sys.argv[1])\n"
        "out = m(np.zeros((2, 76), 'float32'))\n"
        "print(tuple(out['logits'].shape))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe, str(tmp_path / "student.keras")],
        cwd=str(tmp_path),
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=repo_root),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert loaded.stdout.strip().endswith("(2, 10)")


def test_bad_config_exits_with_the_key_named(repo_root, tmp_path, capsys, monkeypatch):
    """In process: a real process's one-line errors are checked in tests/tools/test_faults.py."""
    from fdkd_tf.cli import train

    monkeypatch.chdir(repo_root)
    bad = tmp_path / "bad.yaml"
    bad.write_text("train:\n  epoch: 3\n")
    assert train.main(["--config", str(bad), "--output-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "train.epoch" in err and str(bad) in err
    assert train.main(["--config", "configs/mfeat.yaml", "--set", "train.epochs=ten"]) == 2
    assert "train.epochs" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_ctrl_c_ends_with_one_line_and_the_printed_command_resumes(repo_root, tmp_path):
    args = ["--config", "configs/mfeat.yaml", "--set", "teacher.epochs=20", "--set", "train.epochs=1",
            "--set", "model.teacher.filters=[8]", "--set", "model.student.hidden_units=[16]",
            "--output-dir", str(tmp_path), "--verbose", "0"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen([sys.executable, os.path.join(repo_root, "tools", "train.py"), *args], cwd=repo_root,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    state = tmp_path / "checkpoints" / "teacher_pix" / "state.json"
    deadline = time.time() + 300
    while not state.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.2)
    assert state.exists(), "stage 1 never finished an epoch"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr[-2000:]
    assert "Traceback" not in stderr and "KeyboardInterrupt" not in stderr
    line = stderr.strip().splitlines()[-1]
    assert line.startswith("interrupted in stage 'teacher_pix' after epoch ") and " of 20; resume with: " in line
    command = shlex.split(line.split("resume with: ", 1)[1])
    assert command[:2] == ["python", "tools/train.py"] and command[2:] == args
    finished = json.loads(state.read_text())["epoch"]
    resumed = _run(repo_root, *command[2:])
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(state.read_text())["epoch"] == 20 and finished < 20
