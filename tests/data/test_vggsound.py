"""VGGSound-50: fixture release -> preparation -> loader (5 s crops, 3 frames) -> one step."""

import os
import shutil

import numpy as np
import pytest

from av_fixtures import make_vggsound_release, one_distillation_step
from fdkd_tf.config import DataConfig
from fdkd_tf.data import build_datasets
from fdkd_tf.data.errors import DataFormatError, DatasetWarning
from fdkd_tf.data.vggsound import prepare_vggsound
from fdkd_tf.layers.audio_frontend import vggsound_spectrogram


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("vggsound_raw"))
    return root, make_vggsound_release(root)


@pytest.fixture(scope="module")
def prepared(release, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("vggsound"))
    prepare_vggsound(release[0], out, progress=False)
    return out


def _build(root, **overrides):
    values = dict(name="vggsound", root=root, teacher="visual", student="audio", batch_size=3, image_size=32, audio_samples=4000, val_fraction=0.5)
    values.update(overrides)
    with pytest.warns(DatasetWarning, match=r"3 classes instead of the official 50.*train split has 6 clips instead of the official 25835"):
        return build_datasets(DataConfig(**values), seed=0, deterministic=True)


def test_classes_are_sorted_csv_labels_and_clips_named_by_start(release, prepared):
    _, written = release
    assert open(os.path.join(prepared, "classes.txt")).read().splitlines() == ["dog barking", "playing violin, fiddle", "rain"]
    assert written["train"][0][0] == "yt01-_aB_000010"
    assert os.path.isfile(os.path.join(prepared, "audio", "yt01-_aB_000010.wav"))


def test_loader_crops_and_frames(release, prepared):
    bundle = _build(prepared)
    assert bundle.sizes == {"train": 3, "val": 3, "test": 3}
    assert bundle.input_shapes == {"teacher": (3, 32, 32, 3), "student": (129, 32, 1)}
    test_inputs, test_labels = next(iter(bundle.test))
    assert test_labels.numpy().tolist() == [0, 1, 2]
    # Test: the centred 4,000-sample crop of the clip tiled to >= 8,000 samples.
    import wave

    with wave.open(os.path.join(prepared, "audio", f"{release[1]['test'][0][0]}.wav")) as handle:
        clip = np.frombuffer(handle.readframes(handle.getnframes()), "<i2").astype(np.float32) / 32768.0
    start = (len(clip) - 4000) // 2  # 3 s > 2 crops, so no tiling
    expected = vggsound_spectrogram(clip[None, start : start + 4000]).numpy()[0]
    np.testing.assert_allclose(test_inputs["student"].numpy()[0, ..., 0], expected, atol=1e-5)
    # Training crops move between passes; test crops do not.
    first = next(iter(bundle.train))[0]["student"].numpy()
    second = next(iter(bundle.train))[0]["student"].numpy()
    assert not np.allclose(np.sort(first, axis=None), np.sort(second, axis=None))


def test_one_training_step_both_students(prepared):
    logs = one_distillation_step(_build(prepared), direction="both")
    assert {"audio_ce", "visual_ce"} <= set(logs)
    assert all(np.isfinite(value) for value in logs.values())


@pytest.mark.parametrize(
    "row, match",
    [("ytZZ,20,rain\n", r"vggsound.csv, line 10: expected 4 comma-separated fields"), ("ytZZ,20,rain,valid\n", r"vggsound.csv, line 10: split must be train or test")],
)
def test_bad_csv_rows(release, tmp_path, row, match):
    src = str(tmp_path / "raw")
    shutil.copytree(release[0], src)
    with open(os.path.join(src, "vggsound.csv"), "a") as handle:
        handle.write(row)
    with pytest.raises(DataFormatError, match=match):
        prepare_vggsound(src, str(tmp_path / "out"), progress=False)
