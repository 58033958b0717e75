"""``tools/tune.py``: its arguments and one-line errors.

The search itself is exercised in tests/tuning/test_search.py.
"""

from __future__ import annotations

import os

import pytest

from fdkd_tf.config import load_config
from fdkd_tf.files import write_json
from fdkd_tf.tuning.search import _search_identity


def test_tune_cli_refuses_bad_arguments_and_a_foreign_search_directory(repo_root, tmp_path, capsys, monkeypatch):
    """In process (the installed-command and script runs are in tests/cli): exit codes and lines."""
    from fdkd_tf.cli import tune

    monkeypatch.chdir(repo_root)
    with pytest.raises(SystemExit) as unknown:
        tune.main(["--config", "configs/mfeat.yaml", "--tuner", "grid", "--output-dir", str(tmp_path / "a")])
    assert unknown.value.code == 2 and "invalid choice: 'grid'" in capsys.readouterr().err

    other = load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), ["train.epochs=3"])
    write_json(str(tmp_path / "b" / "search.json"), _search_identity(other, "random"))
    assert tune.main(["--config", "configs/mfeat.yaml", "--max-trials", "2", "--output-dir", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "different config" in err[0]
    assert sorted(os.listdir(tmp_path / "b")) == ["search.json"]