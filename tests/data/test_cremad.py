"""CREMA-D: fixture release -> preparation -> loader -> one training step; bad input."""

import os
import shutil
import wave

import numpy as np
import pytest

from av_fixtures import make_cremad_release, one_distillation_step
from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data import build_datasets
from fdkd_tf.data.errors import DataFormatError, DatasetWarning
from fdkd_tf.data.cremad import CLASS_NAMES, prepare_cremad

# The fixture is a subset, so every build warns that it differs from the release;
# the tests that check that warning catch it with pytest.warns.
pytestmark = pytest.mark.filterwarnings("ignore::fdkd_tf.data.errors.DatasetWarning")


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("cremad_raw"))
    return root, make_cremad_release(root)


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("cremad"))
    prepare_cremad(release[0], out, progress=False)
    return out


def _config(root, **overrides):
    values = dict(name="cremad", root=root, teacher="visual", student="audio", batch_size=4, image_size=32, audio_samples=4000, val_fraction=0.5)
    values.update(overrides)
    return DataConfig(**values)


def _build(root, **overrides):
    with pytest.warns(DatasetWarning, match="differ from the official release"):
        return build_datasets(_config(root, **overrides), seed=0, deterministic=True)


def test_preparation_writes_22050_hz_mono_and_one_fps_frames(release, prepared):
    _, splits = release
    assert open(os.path.join(prepared, "classes.txt")).read().split("\n")[:6] == list(CLASS_NAMES)
    clip = splits["train"][0][0]
    with wave.open(os.path.join(prepared, "audio", f"{clip}.wav")) as handle:
        assert (handle.getframerate(), handle.getnchannels()) == (22050, 1)
        assert abs(handle.getnframes() - int(1.2 * 22050)) <= 2  # 1.2 s resampled from 16 kHz
    assert sorted(os.listdir(os.path.join(prepared, "frames", clip))) == ["0000.jpg", "0001.jpg"]  # 2 s of video


def test_loader_shapes_labels_and_split_sizes(release, prepared):
    _, splits = release
    with pytest.warns(DatasetWarning) as caught:
        bundle = build_datasets(_config(prepared), seed=0, deterministic=True)
    message = str(caught[0].message)
    assert "train split has 12 clips instead of the official 6698" in message
    assert "test split has 6 clips instead of the official 744" in message
    assert bundle.num_classes == 6 and bundle.class_names == list(CLASS_NAMES)
    assert bundle.sizes == {"train": 6, "val": 6, "test": 6}  # val = half of each training class
    assert bundle.input_shapes == {"teacher": (32, 32, 3), "student": (257, 22, 1)}
    inputs, labels = next(iter(bundle.test))
    expected = [CLASS_NAMES.index(label) for _, label in splits["test"]][:4]
    np.testing.assert_array_equal(labels.numpy(), expected)
    assert inputs["teacher"].shape == (4, 32, 32, 3) and inputs["student"].shape == (4, 257, 22, 1)
    spectrogram = inputs["student"].numpy()[0, ..., 0]
    assert abs(spectrogram.mean()) < 1e-4 and abs(spectrogram.std() - 1) < 1e-3  # per-clip standardised
    # The test pipeline is the same on every pass; training is reshuffled.
    again_inputs, again_labels = next(iter(bundle.test))
    np.testing.assert_array_equal(again_inputs["teacher"].numpy(), inputs["teacher"].numpy())


def test_default_shapes_are_the_reference_ones(prepared):
    bundle = _build(prepared, image_size=224, audio_samples=None)
    assert bundle.input_shapes == {"teacher": (224, 224, 3), "student": (257, 1004, 1)}
    sample = bundle.representative_inputs("test", "student", 1)
    assert sample.shape == (1, 257, 1004, 1)


def test_validation_split_is_fixed_by_split_seed(prepared):
    def val_labels(split_seed, seed):
        bundle = _build(prepared, split_seed=split_seed)
        return [label for _, label in bundle.ordered["val"].as_numpy_iterator()], bundle

    first, bundle = val_labels(0, seed=0)
    assert sorted(first) == list(range(6))  # stratified: one clip of each class
    audio_first = bundle.representative_inputs("val", "student", 6)
    _, other = val_labels(0, seed=5)
    np.testing.assert_array_equal(other.representative_inputs("val", "student", 6), audio_first)
    _, reseeded = val_labels(1, seed=0)
    assert not np.array_equal(reseeded.representative_inputs("val", "student", 6), audio_first)


@pytest.mark.parametrize("student, teacher", [("audio", "visual"), ("visual", "audio")])
def test_views_follow_the_student_choice(prepared, student, teacher):
    bundle = _build(prepared, student=student, teacher=teacher)
    assert bundle.modalities == {"teacher": teacher, "student": student}
    assert bundle.input_shapes["student"] == ((257, 22, 1) if student == "audio" else (32, 32, 3))


def test_one_training_step_both_students(prepared):
    logs = one_distillation_step(_build(prepared), direction="both")
    assert {"audio_ce", "visual_ce", "audio_low", "visual_high"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())


# ------------------------------------------------------------------ bad input


def _copy(prepared, tmp_path):
    target = str(tmp_path / "data")
    shutil.copytree(prepared, target)
    return target


def test_missing_root_names_the_key(tmp_path):
    with pytest.raises(ConfigError, match=r"data.root.*tools/prepare_cremad.py"):
        build_datasets(_config(str(tmp_path / "nowhere")), seed=0)


def test_missing_split_file(prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    os.remove(os.path.join(root, "test.tsv"))
    with pytest.raises(DataFormatError, match=r"split file not found: .*test.tsv"):
        build_datasets(_config(root), seed=0)


def test_non_audio_visual_view_is_rejected(prepared):
    with pytest.raises(ConfigError, match="data.student' must be one of audio, visual"):
        build_datasets(_config(prepared, student="text"), seed=0)


@pytest.mark.parametrize(
    "line, match",
    [("extra\tfields\there", r"test.tsv, line 7: expected 2 tab-separated fields, got 3"), ("1001_DFA_NEU_XX\tBORED", r"test.tsv, line 7: label 'BORED' is not in")],
)
def test_bad_split_line_errors_or_is_skipped(prepared, tmp_path, line, match):
    root = _copy(prepared, tmp_path)
    with open(os.path.join(root, "test.tsv"), "a") as handle:
        handle.write(line + "\n")
    with pytest.raises(DataFormatError, match=match + ".*data.on_bad_sample: skip"):
        build_datasets(_config(root), seed=0)
    with pytest.warns(DatasetWarning, match=r"skipped 1 bad samples"):
        bundle = build_datasets(_config(root, on_bad_sample="skip"), seed=0)
    assert bundle.sizes["test"] == 6


@pytest.mark.parametrize("damage", ["empty", "garbage", "missing", "rate"])
def test_bad_clip_errors_or_is_skipped(release, prepared, tmp_path, damage):
    root = _copy(prepared, tmp_path)
    clip = release[1]["test"][2][0]
    path = os.path.join(root, "audio", f"{clip}.wav")
    if damage == "empty":
        with wave.open(path, "wb") as handle:
            handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(22050)
    elif damage == "garbage":
        open(path, "wb").write(b"not a wav file at all")
    elif damage == "missing":
        os.remove(path)
    else:
        with wave.open(path, "wb") as handle:
            handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(44100), handle.writeframes(b"\0\0" * 100)
    expected = {"empty": "empty wav file", "garbage": "unreadable wav file", "missing": "audio file not found", "rate": "44100 Hz, expected 22050 Hz"}[damage]
    with pytest.raises(DataFormatError, match=rf"test.tsv, line 3: clip '{clip}': .*{expected}") as error:
        build_datasets(_config(root), seed=0)
    assert f"{clip}.wav" in str(error.value)
    with pytest.warns(DatasetWarning, match="skipped 1 bad samples"):
        bundle = build_datasets(_config(root, on_bad_sample="skip"), seed=0)
    assert bundle.sizes["test"] == 5
    assert len(list(bundle.test.unbatch())) == 5


def test_clip_without_frames(release, prepared, tmp_path):
    root = _copy(prepared, tmp_path)
    clip = release[1]["train"][0][0]
    shutil.rmtree(os.path.join(root, "frames", clip))
    with pytest.raises(DataFormatError, match=rf"train.tsv, line 1: clip '{clip}' has no frames"):
        build_datasets(_config(root), seed=0)


def test_preparation_rejects_bad_split_rows(release, tmp_path):
    src = str(tmp_path / "raw")
    shutil.copytree(release[0], src)
    with open(os.path.join(src, "train.csv"), "a") as handle:
        handle.write("1001_DFA_ANG_XX,ANG,extra\n")
    with pytest.raises(DataFormatError, match=r"train.csv, line 13: expected 2 comma-separated fields"):
        prepare_cremad(src, str(tmp_path / "out"), progress=False)
    with open(os.path.join(src, "test.csv"), "a") as handle:
        handle.write("1001_DFA_ANG_XX,CALM\n")
    report = prepare_cremad(src, str(tmp_path / "out"), on_bad="skip", progress=False)
    assert len(report.bad_lines) == 2 and "train.csv, line 13" in report.bad_lines[0]
    assert "test.csv, line 7: label 'CALM' is not one of NEU" in report.bad_lines[1]
    assert report.split_sizes == {"train": 12, "test": 6}
    with open(os.path.join(src, "train.csv"), "w") as handle:
        handle.write("".join(f"{clip},{label}\n" for clip, label in release[1]["train"]))
    with pytest.raises(DataFormatError, match=r"test.csv, line 7: label 'CALM' is not one of NEU"):
        prepare_cremad(src, str(tmp_path / "out2"), progress=False)
