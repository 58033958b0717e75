"""``tools/export.py`` in a fresh process: the verification table, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from fdkd_tf.config import load_config
from fdkd_tf.training.experiment import run_experiment


def _run(repo_root, *args):
    return subprocess.run(
        [sys.executable, os.path.join(repo_root, "tools", "export.py"), *args],
        cwd=repo_root,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_export_cli_prints_the_table_and_writes_the_report(repo_root, tmp_path, capsys):
    overrides = ["teacher.epochs=1", "train.epochs=1", "train.verbose=0", "model.teacher.filters=[8]", "model.student.hidden_units=[32]"]
    run_experiment(load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), overrides), str(tmp_path))

    # Bad arguments in process (a real process's one-line errors: tests/tools/test_faults.py).
    from fdkd_tf.cli import export

    assert export.main(["--run-dir", str(tmp_path), "--formats", "tflite,coreml"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: unknown export format 'coreml'")
    assert export.main(["--run-dir", str(tmp_path), "--int8-scales", "per_row"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: unknown int8 weight-scale mode 'per_row'")
    assert not (tmp_path / "export").exists()

    result = _run(repo_root, "--run-dir", str(tmp_path), "--formats", "tflite,tflite_int8", "--latency-samples", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "tflite_int8" in result.stdout and "max |diff|" in result.stdout
    report = json.loads((tmp_path / "export" / "report.json").read_text())
    assert set(report["formats"]) == {"tflite", "tflite_int8"}
    assert report["formats"]["tflite"]["max_abs_diff"] <= 1e-4
    assert sorted(os.listdir(tmp_path / "export")) == ["report.json", "student.tflite", "student_int8.tflite"]
