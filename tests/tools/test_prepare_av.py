"""tools/prepare_*.py: progress, resumability and the report of undecodable clips."""

import importlib.util
import json
import os

import pytest

from av_fixtures import make_vggsound_release
from testing_utils import REPO_ROOT


def _tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO_ROOT, "tools", f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("vgg_raw"))
    written = make_vggsound_release(root, num_classes=2, train_per_class=1, test_per_class=1)
    broken = written["test"][0][0]
    with open(os.path.join(root, "video", f"{broken}.mp4"), "wb") as handle:
        handle.write(b"\x00\x00\x00\x18ftypmp42 this is not a video")
    os.remove(os.path.join(root, "video", f"{written['train'][1][0]}.mp4"))
    return root, written


def test_bad_clips_are_reported_by_name_and_a_rerun_resumes(release, tmp_path, capsys):
    src, written = release
    out = str(tmp_path / "out")
    broken, missing = written["test"][0][0], written["train"][1][0]
    prepare = _tool("prepare_vggsound").main

    assert prepare(["--src", src, "--out", out]) == 0
    printed = capsys.readouterr()
    assert "4 clips, 2 prepared now, 0 already prepared, 2 failed" in printed.out
    assert broken in printed.out and missing in printed.out
    assert "prepare vggsound" in printed.err  # the progress bar
    report = json.load(open(os.path.join(out, "prepare_report.json")))
    assert report["num_failed"] == 2 and set(report["failed"]) == {broken, missing}
    assert "missing file" in report["failed"][missing]
    assert report["split_sizes"] == {"train": 1, "test": 1}
    kept = open(os.path.join(out, "test.tsv")).read()
    assert broken not in kept and written["test"][1][0] in kept

    # A leftover of a killed run is cleaned; finished clips are skipped.
    os.makedirs(os.path.join(out, "frames", broken + ".partial"))
    assert prepare(["--src", src, "--out", out, "--no-progress"]) == 0
    assert "2 prepared now" not in capsys.readouterr().out
    report = json.load(open(os.path.join(out, "prepare_report.json")))
    assert (report["prepared"], report["already_done"], report["num_failed"]) == (0, 2, 2)
    assert not os.path.exists(os.path.join(out, "frames", broken + ".partial"))


def test_missing_release_exits_2_with_the_path(tmp_path, capsys):
    for name in ("prepare_ave", "prepare_cremad", "prepare_vggsound"):
        assert _tool(name).main(["--src", str(tmp_path / "absent"), "--out", str(tmp_path / "out")]) == 2
        assert str(tmp_path / "absent") in capsys.readouterr().err
