import importlib.util
import json
import os
import re

import pytest
from crisismmd_fixtures import SPLIT_SIZES, make_release
from testing_utils import REPO_ROOT

from fdkd_tf.data.crisismmd import OFFICIAL_SPLIT_SIZES, PREPARED_COLUMNS, TASK_CLASSES

_spec = importlib.util.spec_from_file_location("prepare_crisismmd_tool", os.path.join(REPO_ROOT, "tools", "prepare_crisismmd.py"))
tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tool)


@pytest.fixture
def release(tmp_path):
    return make_release(tmp_path / "raw")


def read_rows(path):
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert lines[0].split("\t") == list(PREPARED_COLUMNS)
    return [dict(zip(PREPARED_COLUMNS, line.split("\t"))) for line in lines[1:]]


def test_prepares_the_official_layout_and_reports_unreadable_images(release, tmp_path, capsys):
    garbage = release["rows"]["informative", "train"][3]["image"]
    empty = release["rows"]["informative", "dev"][1]["image"]
    with open(os.path.join(release["release"], garbage), "wb") as handle:
        handle.write(b"<html>not found</html>")
    open(os.path.join(release["release"], empty), "wb").close()
    truncated = release["rows"]["informative", "test"][2]["image"]
    with open(os.path.join(release["release"], truncated), "rb") as handle:
        head = handle.read()
    with open(os.path.join(release["release"], truncated), "wb") as handle:
        handle.write(head[: len(head) // 2])
    missing = release["rows"]["informative", "dev"][2]["image"]
    os.remove(os.path.join(release["release"], missing))
    out = tmp_path / "data"

    assert tool.main(["--src", str(tmp_path / "raw"), "--out", str(out)]) == 0

    captured = capsys.readouterr()
    assert "prepare crisismmd" in captured.err  # the progress bar
    assert "informative train: 7 pairs written of 8 (official split: 9601)" in captured.out
    report = json.loads((out / "prepare_report.json").read_text())
    bad = {
        garbage: "not a JPEG/PNG/GIF/BMP image",
        empty: "empty file",
        missing: "missing",
        truncated: "cannot be decoded (jpeg::Uncompress failed. Invalid JPEG data or crop window.)",
    }
    assert report["num_unreadable_images"] == 4
    assert report["unreadable_images"] == bad
    listed = (out / "unreadable_images.txt").read_text().splitlines()
    assert listed == [f"{image}\t{reason}" for image, reason in sorted(bad.items())]
    for task in TASK_CLASSES:
        for split in ("train", "dev", "test"):
            counts = report["tasks"][task][split]
            dropped = {"train": 1, "dev": 2, "test": 1}[split]
            assert counts == {
                "lines": SPLIT_SIZES[split],
                "written": SPLIT_SIZES[split] - dropped,
                "unreadable_images": dropped,
                "official": OFFICIAL_SPLIT_SIZES[task][split],
            }
            expected = [
                {"tweet_id": r["tweet_id"], "image_id": r["image_id"], "image": r["image"], "label": r["label"], "tweet_text": r["tweet_text"]}
                for r in release["rows"][task, split]
                if r["image"] not in bad
            ]
            assert read_rows(out / f"{task}_{split}.tsv") == expected
    # JPEGs are copied byte for byte; PNG content saved as .jpg is re-encoded as JPEG
    jpeg = release["rows"]["informative", "test"][1]["image"]
    assert (out / jpeg).read_bytes() == open(os.path.join(release["release"], jpeg), "rb").read()
    for png in release["png_images"]:
        assert open(os.path.join(release["release"], png), "rb").read(4) == b"\x89PNG"
        assert (out / png).read_bytes()[:3] == b"\xff\xd8\xff"


def test_rerun_skips_finished_images(release, tmp_path):
    out = tmp_path / "data"
    assert tool.main(["--src", str(tmp_path / "raw"), "--out", str(out), "--no-progress"]) == 0
    images = [row["image"] for row in release["rows"]["informative", "train"]]
    before = {image: os.stat(out / image).st_mtime_ns for image in images}
    os.remove(out / images[0])

    assert tool.main(["--src", str(tmp_path / "raw"), "--out", str(out), "--no-progress"]) == 0

    assert (out / images[0]).exists()
    assert all(os.stat(out / image).st_mtime_ns == before[image] for image in images[1:])


def _damage_line(path, number, edit):
    lines = open(path, encoding="utf-8").read().split("\n")
    lines[number - 1] = edit(lines[number - 1])
    open(path, "w", encoding="utf-8").write("\n".join(lines))


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda line: line + "\textra", r"task_humanitarian_text_img_dev.tsv:3: expected 9 tab-separated fields, got 10"),
        (
            lambda line: "\t".join(field if i != 5 else "vehicle_damage" for i, field in enumerate(line.split("\t"))),
            r"task_humanitarian_text_img_dev.tsv:3: label 'vehicle_damage' is not one of the classes",
        ),
    ],
)
def test_bad_split_lines_stop_or_are_skipped(release, tmp_path, capsys, edit, message):
    path = os.path.join(release["splits"], "task_humanitarian_text_img_dev.tsv")
    _damage_line(path, 3, edit)
    out = tmp_path / "data"

    assert tool.main(["--src", str(tmp_path / "raw"), "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: ") and len(error.strip().splitlines()) == 1
    assert re.search(message, error)

    assert tool.main(["--src", str(tmp_path / "raw"), "--out", str(out), "--no-progress", "--on-bad-sample", "skip"]) == 0
    report = json.loads((out / "prepare_report.json").read_text())
    assert report["num_skipped_lines"] == 1 and re.search(message, report["skipped_lines"][0])
    assert report["tasks"]["humanitarian"]["dev"]["written"] == SPLIT_SIZES["dev"] - 1


def test_missing_source_or_split_file_is_a_one_line_error(release, tmp_path, capsys):
    assert tool.main(["--src", str(tmp_path / "absent"), "--out", str(tmp_path / "data")]) == 2
    assert "source directory not found" in capsys.readouterr().err
    os.remove(os.path.join(release["splits"], "task_informative_text_img_test.tsv"))
    assert tool.main(["--src", str(tmp_path / "raw"), "--out", str(tmp_path / "data"), "--no-progress"]) == 2
    assert "task_informative_text_img_test.tsv" in capsys.readouterr().err
