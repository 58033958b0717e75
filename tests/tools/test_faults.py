"""Every fault of every tool is one ``error:`` line naming the path or key, a non-zero
exit code, no traceback, and the files already there unchanged (docs/reliability.md)."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from fdkd_tf.cli import export as export_cli
from fdkd_tf.cli import prepare_ave as prepare_ave_cli
from fdkd_tf.cli import train as train_cli

SMALL = ["--set", "teacher.epochs=1", "--set", "train.epochs=2", "--set", "model.teacher.filters=[8]",
         "--set", "model.student.hidden_units=[16]", "--verbose", "0"]


def _checksums(root) -> dict:
    sums = {}
    for base, _, files in os.walk(root):
        for name in files:
            path = os.path.join(base, name)
            with open(path, "rb") as handle:
                sums[os.path.relpath(path, root)] = hashlib.sha256(handle.read()).hexdigest()
    return sums


def _one_error_line(capsys) -> str:
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def existing(tmp_path):
    """A directory with files a failing command must not touch."""
    root = tmp_path / "existing"
    (root / "sub").mkdir(parents=True)
    (root / "keep.txt").write_text("keep")
    (root / "sub" / "data.bin").write_bytes(os.urandom(64))
    return root


def _bad_configs(tmp_path):
    non_utf8 = tmp_path / "latin1.yaml"
    non_utf8.write_bytes("experiment:\n  name: caf\xe9\n".encode("latin-1"))
    syntax = tmp_path / "syntax.yaml"
    syntax.write_text("train:\n  epochs: [1, 2\n")
    listed = tmp_path / "list.yaml"
    listed.write_text("- train\n- data\n")
    return {
        "non-utf8": ([str(non_utf8)], "not UTF-8 text"),
        "yaml-syntax": ([str(syntax)], "is not valid YAML: line "),
        "top-level-list-with-set": ([str(listed), "--set", "train.epochs=1"], "must hold a mapping"),
        "directory-as-config": ([str(tmp_path)], "is a directory, not a config file"),
    }


@pytest.mark.parametrize("case", ["non-utf8", "yaml-syntax", "top-level-list-with-set", "directory-as-config"])
def test_bad_config_files_are_one_line(case, tmp_path, existing, capsys):
    args, expected = _bad_configs(tmp_path)[case]
    before = _checksums(existing)
    code = train_cli.main(["--config", args[0], *args[1:], "--output-dir", str(existing)])
    assert code == 2
    line = _one_error_line(capsys)
    assert expected in line and args[0] in line
    assert _checksums(existing) == before


def test_a_yaml_error_names_line_and_column_in_a_real_process(repo_root, tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data:\n  name: mfeat\n   teacher: pix\n")
    result = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "train.py"), "--config", str(bad)],
                            capture_output=True, text=True, timeout=300, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {bad} is not valid YAML: line 3, column ")


def test_an_output_dir_that_is_a_file_is_one_line(repo_root, tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("not a directory")
    code = train_cli.main(["--config", os.path.join(repo_root, "configs", "mfeat.yaml"), "--output-dir", str(target), *SMALL])
    assert code == 2
    line = _one_error_line(capsys)
    assert str(target) in line and "choose another --output-dir" in line
    assert target.read_text() == "not a directory"


def test_an_unwritable_output_dir_is_one_line(repo_root, tmp_path, capsys, monkeypatch):
    """Tests run as root here, where chmod does not stop writes; the OS error is injected."""
    from fdkd_tf import files

    def refuse(self):
        raise PermissionError(errno.EACCES, "Permission denied", os.path.join(self.root, ".lock"))

    monkeypatch.setattr(files.RunLock, "acquire", refuse)
    code = train_cli.main(["--config", os.path.join(repo_root, "configs", "mfeat.yaml"), "--output-dir", str(tmp_path / "ro"), *SMALL])
    assert code == 2
    line = _one_error_line(capsys)
    assert "Permission denied" in line and str(tmp_path / "ro") in line and "permissions" in line


def test_a_teacher_checkpoint_of_another_architecture_names_the_first_mismatch(repo_root, tmp_path, capsys):
    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, name="foreign")])
    weights = tmp_path / "other.weights.h5"
    other.save_weights(weights)
    code = train_cli.main(["--config", os.path.join(repo_root, "configs", "mfeat.yaml"), "--set", f"teacher.checkpoint={weights}",
                           "--output-dir", str(tmp_path / "run"), *SMALL])
    assert code == 2
    line = _one_error_line(capsys)
    assert "teacher.checkpoint" in line and str(weights) in line and "the first is layer" in line
    assert "pass weights saved from this architecture" in line
    assert len(line) < 600  # the arrays are not printed


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_and_ends_cleanly(repo_root, tmp_path, capsys, monkeypatch):
    run_dir = tmp_path / "run"
    original = keras.Model.save_weights

    def save_weights(self, path, *args, **kwargs):
        if "distill" in str(path) and os.path.exists(os.path.join(run_dir, "checkpoints", "distill", "state.json")):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(keras.Model, "save_weights", save_weights)
    code = train_cli.main(["--config", os.path.join(repo_root, "configs", "mfeat.yaml"), "--output-dir", str(run_dir), *SMALL])
    assert code == 2
    line = _one_error_line(capsys)
    assert "No space left on device" in line and "the last checkpoint is intact" in line
    stage = run_dir / "checkpoints" / "distill"
    assert not [name for name in os.listdir(stage) if name.startswith(".tmp-")]
    monkeypatch.undo()
    assert train_cli.main(["--config", os.path.join(repo_root, "configs", "mfeat.yaml"), "--output-dir", str(run_dir), *SMALL]) == 0
    assert (run_dir / "metrics.json").exists()


def test_a_truncated_student_at_export_is_one_line(repo_root, tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert train_cli.main(["--config", os.path.join(repo_root, "configs", "mfeat.yaml"), "--output-dir", str(run_dir), *SMALL]) == 0
    capsys.readouterr()
    student = run_dir / "student.keras"
    student.write_bytes(student.read_bytes()[:200])
    before = _checksums(run_dir)
    code = export_cli.main(["--run-dir", str(run_dir), "--formats", "tflite"])
    assert code == 2
    line = _one_error_line(capsys)
    assert str(student) in line and "truncated or not a Keras file" in line
    assert _checksums(run_dir) == before


def test_prepare_with_no_readable_clip_fails_and_a_rerun_merges_its_report(tmp_path, capsys):
    import json

    raw = tmp_path / "raw"
    (raw / "AVE").mkdir(parents=True)
    rows = "Church bell&vid1&good&0&2\nBark&vid2&good&0&2\n"
    (raw / "Annotations.txt").write_text(rows)
    for name in ("trainSet.txt", "valSet.txt", "testSet.txt"):
        (raw / name).write_text(rows)
    (raw / "AVE" / "vid1.mp4").write_bytes(b"not a video")
    out = tmp_path / "out"
    assert prepare_ave_cli.main(["--src", str(raw), "--out", str(out), "--no-progress"]) == 1
    captured = capsys.readouterr()
    errors = [line for line in captured.err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "none of the 2 clips could be prepared" in errors[0]
    assert prepare_ave_cli.main(["--src", str(raw), "--out", str(out), "--no-progress"]) == 1
    report = json.loads((out / "prepare_report.json").read_text())
    assert len(report["runs"]) == 2 and report["num_failed"] == 2


def test_an_unwritable_prepare_output_is_one_line(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "raw"
    (raw / "AVE").mkdir(parents=True)
    for name in ("Annotations.txt", "trainSet.txt", "valSet.txt", "testSet.txt"):
        (raw / name).write_text("Bark&vid2&good&0&2\n")
    real_makedirs = os.makedirs

    def makedirs(path, *args, **kwargs):
        if str(path).startswith(str(tmp_path / "ro")):
            raise PermissionError(errno.EROFS, "Read-only file system", str(path))
        return real_makedirs(path, *args, **kwargs)

    monkeypatch.setattr(os, "makedirs", makedirs)
    assert prepare_ave_cli.main(["--src", str(raw), "--out", str(tmp_path / "ro"), "--no-progress"]) == 2
    line = _one_error_line(capsys)
    assert "Read-only file system" in line and str(tmp_path / "ro") in line


def _every_tool_case(tool, tmp_path):
    """Arguments that give ``tool`` a bad file: a non-UTF-8 config, a run directory that
    is a file, a release directory that is missing, or an output path under a file."""
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("experiment:\n  name: caf\xe9\n".encode("latin-1"))
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    return {
        "train": ["--config", str(latin1)],
        "tune": ["--config", str(latin1), "--output-dir", str(tmp_path / "tune")],
        "benchmark": ["--config", str(latin1), "--output", str(tmp_path / "bench")],
        "analyze": ["similarity", "--run-dir", str(a_file)],
        "export": ["--run-dir", str(a_file)],
        "prepare_ave": ["--src", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        "prepare_cremad": ["--src", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        "prepare_vggsound": ["--src", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        "prepare_crisismmd": ["--src", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        "prepare_nyudv2": ["--src", str(tmp_path / "missing"), "--out", str(tmp_path / "out")],
        "prepare_spoken_digits": ["--out", str(a_file / "sub")],
    }[tool], {"train": "latin1.yaml", "tune": "latin1.yaml", "benchmark": "latin1.yaml", "analyze": "a_file",
              "export": "a_file", "prepare_spoken_digits": "a_file"}.get(tool, "missing")


@pytest.mark.parametrize("tool", ["train", "tune", "benchmark", "analyze", "export", "prepare_ave", "prepare_cremad",
                                  "prepare_vggsound", "prepare_crisismmd", "prepare_nyudv2", "prepare_spoken_digits"])
def test_every_tool_ends_a_bad_file_with_one_line(tool, tmp_path, capsys, monkeypatch):
    import importlib

    from fdkd_tf.data import spoken_digits

    monkeypatch.setattr(spoken_digits.shutil, "which", lambda name: "/usr/bin/espeak-ng")  # reach the write
    monkeypatch.setattr(spoken_digits, "make_clips", lambda per_split, seed: {"waveform": np.zeros((1, 16000), "float32"),
                                                                               "label": np.zeros(1, int), "split": np.zeros(1, int)})
    args, named = _every_tool_case(tool, tmp_path)
    before = _checksums(tmp_path)
    main = importlib.import_module(f"fdkd_tf.cli.{tool}").main
    assert main(args) != 0
    line = _one_error_line(capsys)
    assert named in line
    assert _checksums(tmp_path) == before
