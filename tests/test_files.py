"""Atomic writes: a failed write leaves the previous file intact and no debris."""

from __future__ import annotations

import json
import os

import pytest

from fdkd_tf.files import atomic_path, read_json, write_json


def test_write_json_round_trip(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    write_json(str(path), {"a": 1})
    assert read_json(str(path)) == {"a": 1}
    assert read_json(str(tmp_path / "missing.json")) is None


def test_failed_write_keeps_previous_file(tmp_path):
    path = tmp_path / "state.json"
    write_json(str(path), {"epoch": 3})
    with pytest.raises(RuntimeError):
        with atomic_path(str(path)) as temporary:
            with open(temporary, "w") as handle:
                handle.write('{"epoch": 4')  # truncated
            raise RuntimeError("killed mid-write")
    assert json.loads(path.read_text()) == {"epoch": 3}
    assert sorted(os.listdir(tmp_path)) == ["state.json"]


def test_temporary_keeps_keras_suffix(tmp_path):
    with atomic_path(str(tmp_path / "best.weights.h5")) as temporary:
        assert temporary.endswith(".weights.h5")
        open(temporary, "w").close()
    with atomic_path(str(tmp_path / "student.keras")) as temporary:
        assert temporary.endswith(".keras")
        open(temporary, "w").close()
    assert sorted(os.listdir(tmp_path)) == ["best.weights.h5", "student.keras"]
