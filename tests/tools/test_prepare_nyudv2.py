"""tools/prepare_nyudv2.py on a tiny release in the official layout (tests/nyudv2_fixtures.py)."""

from __future__ import annotations

import importlib.util
import json
import os

import numpy as np
import pytest
import scipy.io
import tensorflow as tf

from nyudv2_fixtures import write_raw_release
from testing_utils import REPO_ROOT
from fdkd_tf.data import nyudv2


def _tool():
    spec = importlib.util.spec_from_file_location("prepare_nyudv2_tool", os.path.join(REPO_ROOT, "tools", "prepare_nyudv2.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _png(path):
    with open(path, "rb") as handle:
        encoded = handle.read()
    dtype = tf.uint16 if nyudv2.png_header(path)[2] == 16 else tf.uint8
    return tf.io.decode_png(encoded, dtype=dtype).numpy()


def _lines(path):
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle]


def test_prepares_every_sample_in_image_orientation(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "prepared"
    truth = write_raw_release(raw)

    assert _tool().main(["--src", str(raw), "--out", str(out)]) == 0

    captured = capsys.readouterr()
    assert "prepare nyudv2" in captured.err  # the progress bar
    assert "prepared 10, already done 0, failed 0 of 10" in captured.out
    for index in range(1, 11):
        stem = f"{index:04d}"
        np.testing.assert_array_equal(_png(out / "rgb" / f"{stem}.png"), truth["rgb"][index - 1])
        np.testing.assert_array_equal(_png(out / "depth" / f"{stem}.png")[..., 0], np.round(truth["depth"][index - 1].astype(np.float64) * 1000))
        labels = _png(out / "label" / f"{stem}.png")[..., 0]
        np.testing.assert_array_equal(labels, truth["labels"][index - 1])
    # Unlabelled (raw 0) -> 255; raw k -> mapClass(k) - 1; the last raw class 894 too.
    raw_labels = truth["raw_labels"][0]
    labels = _png(out / "label" / "0001.png")[..., 0]
    assert np.all(labels[raw_labels == 0] == 255)
    assert np.all(labels[raw_labels == 894] == truth["map"][893] - 1)
    assert _lines(out / "train.txt") == ["0001", "0003", "0004", "0006", "0008", "0009"]
    assert _lines(out / "test.txt") == ["0002", "0005", "0007", "0010"]
    assert _lines(out / "classes.txt") == nyudv2.CLASS_NAMES
    with open(out / "prepare_report.json", encoding="utf-8") as handle:
        report = json.load(handle)
    assert report["split_sizes"] == {"train": 6, "test": 4} and report["num_failed"] == 0


def test_rerun_resumes_and_redoes_only_missing_samples(tmp_path):
    raw, out = tmp_path / "raw", tmp_path / "prepared"
    truth = write_raw_release(raw)
    nyudv2.prepare_nyudv2(str(raw), str(out), progress=False)
    os.remove(out / "label" / "0005.png")

    report = nyudv2.prepare_nyudv2(str(raw), str(out), progress=False)

    assert (report.prepared, report.already_done) == (1, 9)
    np.testing.assert_array_equal(_png(out / "label" / "0005.png")[..., 0], truth["labels"][4])


def test_bad_sample_is_reported_and_left_out_or_stops_the_run(tmp_path, capsys):
    raw, out = tmp_path / "raw", tmp_path / "prepared"
    write_raw_release(raw, bad_label_sample=3)
    tool = _tool()

    assert tool.main(["--src", str(raw), "--out", str(out), "--no-progress"]) == 0

    captured = capsys.readouterr().out
    assert "failed 1 of 10" in captured and "failed 0003" in captured and "raw label 900" in captured
    assert "0003" not in _lines(out / "train.txt")
    with open(out / "prepare_report.json", encoding="utf-8") as handle:
        assert "0003" in json.load(handle)["failed"]

    assert tool.main(["--src", str(raw), "--out", str(tmp_path / "strict"), "--no-progress", "--on-bad-sample", "error"]) == 2
    error = capsys.readouterr().err
    assert "nyu_depth_v2_labeled.mat: sample 3" in error and "raw label 900" in error


def test_missing_release_file_is_named(tmp_path, capsys):
    raw = tmp_path / "raw"
    write_raw_release(raw)
    os.remove(raw / "splits.mat")

    assert _tool().main(["--src", str(raw), "--out", str(tmp_path / "out")]) == 2

    assert "splits.mat not found" in capsys.readouterr().err


def test_mapping_outside_the_40_classes_names_file_and_position(tmp_path):
    raw = tmp_path / "raw"
    write_raw_release(raw)
    path = raw / "classMapping40.mat"
    contents = scipy.io.loadmat(path)
    contents["mapClass"][0, 6] = 41
    scipy.io.savemat(path, {"mapClass": contents["mapClass"], "className": contents["className"]})

    with pytest.raises(ValueError, match=r"classMapping40\.mat: mapClass\(7\) = 41 is not a class index in 1\.\.40"):
        nyudv2.prepare_nyudv2(str(raw), str(tmp_path / "out"), progress=False)


def test_split_index_outside_the_release_is_an_error(tmp_path):
    raw = tmp_path / "raw"
    write_raw_release(raw, test=(2, 5, 7, 11))

    with pytest.raises(ValueError, match=r"splits\.mat: testNdxs holds 11,"):
        nyudv2.prepare_nyudv2(str(raw), str(tmp_path / "out"), progress=False)
