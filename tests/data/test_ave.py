"""AVE: fixture release -> preparation (annotated segments) -> loader -> one training step."""

import os
import shutil
import wave

import numpy as np
import pytest

from av_fixtures import make_ave_release, one_distillation_step
from fdkd_tf.config import DataConfig
from fdkd_tf.data import build_datasets
from fdkd_tf.data.errors import DataFormatError, DatasetWarning
from fdkd_tf.data.ave import CLASS_NAMES, prepare_ave


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("ave_raw"))
    return root, make_ave_release(root)


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("ave"))
    prepare_ave(release[0], out, progress=False)
    return out


def _build(root, **overrides):
    values = dict(name="ave", root=root, teacher="visual", student="audio", batch_size=4, image_size=32, audio_samples=4000)
    values.update(overrides)
    with pytest.warns(DatasetWarning, match=r"3 classes instead of the official 28"):
        return build_datasets(DataConfig(**values), seed=0, deterministic=True)


def test_preparation_keeps_the_annotated_segment(release, prepared):
    _, written = release
    assert open(os.path.join(prepared, "classes.txt")).read().splitlines() == written["classes"] == list(CLASS_NAMES[:3])
    for clip, _ in written["train"]:
        start, end = (int(value) for value in clip.rsplit("_", 2)[1:])
        with wave.open(os.path.join(prepared, "audio", f"{clip}.wav")) as handle:
            assert handle.getframerate() == 16000  # resampled from the 22,050 Hz AAC track
            assert abs(handle.getnframes() - (end - start) * 16000) < 0.05 * 16000
        assert len(os.listdir(os.path.join(prepared, "frames", clip))) == end - start  # 1 fps inside the segment


def test_loader_uses_the_official_three_splits(release, prepared):
    _, written = release
    bundle = _build(prepared)
    assert bundle.sizes == {"train": 6, "val": 3, "test": 3}
    assert bundle.class_names == list(CLASS_NAMES[:3]) and bundle.num_classes == 3
    labels = [int(label) for _, label in bundle.ordered["val"].as_numpy_iterator()]
    assert labels == [written["classes"].index(category) for _, category in written["val"]] == [0, 1, 2]
    inputs, _ = next(iter(bundle.train))
    assert inputs["student"].shape == (4, 257, 22, 1) and inputs["teacher"].shape == (4, 32, 32, 3)


def test_one_training_step_both_students(prepared):
    logs = one_distillation_step(_build(prepared, student="visual", teacher="audio"), direction="both")
    assert {"audio_ce", "visual_ce", "audio_align_low_t", "visual_task_high"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())


@pytest.mark.parametrize(
    "line, match",
    [
        ("Bark&vidXYZ&good&0\n", r"trainSet.txt, line 8: expected 5 '&'-separated fields .*got 4"),
        ("Bark&vidXYZ&good&5&2\n", r"trainSet.txt, line 8: StartTime 5 must be >= 0 and below EndTime 2"),
        ("Goat&vidXYZ&good&0&2\n", r"trainSet.txt, line 8: category 'Goat' does not appear in .*Annotations.txt"),
    ],
)
def test_bad_annotation_lines(release, tmp_path, line, match):
    src = str(tmp_path / "raw")
    shutil.copytree(release[0], src)
    with open(os.path.join(src, "trainSet.txt"), "a") as handle:
        handle.write(line)
    with pytest.raises(DataFormatError, match=match):
        prepare_ave(src, str(tmp_path / "out"), progress=False)
    report = prepare_ave(src, str(tmp_path / "out"), on_bad="skip", progress=False)
    assert len(report.bad_lines) == 1 and report.split_sizes["train"] == 6


def test_missing_annotations_file(release, tmp_path):
    src = str(tmp_path / "raw")
    shutil.copytree(release[0], src)
    os.remove(os.path.join(src, "Annotations.txt"))
    with pytest.raises(DataFormatError, match=r"AVE annotation file not found: .*Annotations.txt"):
        prepare_ave(src, str(tmp_path / "out"), progress=False)
