"""``tools/tune.py`` in a fresh process: its arguments and one-line errors.

The search itself is exercised in tests/tuning/test_search.py.
"""

from __future__ import annotations

import os
import subprocess
import sys

from fdkd_tf.config import load_config
from fdkd_tf.files import write_json
from fdkd_tf.tuning.search import _search_identity


def _run(repo_root, *args):
    return subprocess.run(
        [sys.executable, os.path.join(repo_root, "tools", "tune.py"), *args],
        cwd=repo_root,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_tune_cli_refuses_bad_arguments_and_a_foreign_search_directory(repo_root, tmp_path):
    unknown = _run(repo_root, "--config", "configs/mfeat.yaml", "--tuner", "grid", "--output-dir", str(tmp_path / "a"))
    assert unknown.returncode == 2 and "invalid choice: 'grid'" in unknown.stderr

    other = load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), ["train.epochs=3"])
    write_json(str(tmp_path / "b" / "search.json"), _search_identity(other, "random"))
    foreign = _run(repo_root, "--config", "configs/mfeat.yaml", "--max-trials", "2", "--output-dir", str(tmp_path / "b"))
    assert foreign.returncode == 2, foreign.stderr[-2000:]
    assert foreign.stderr.strip().splitlines()[-1].startswith("error: ")
    assert "different config" in foreign.stderr
    assert sorted(os.listdir(tmp_path / "b")) == ["search.json"]
