"""The manifest dataset: one's own paired files listed in a CSV (``data.name: manifest``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import warnings

import numpy as np
import pytest

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data import build_datasets, dataset_info
from fdkd_tf.data.errors import DataFormatError, DatasetWarning
from fdkd_tf.data.images import IMAGENET_MEAN, IMAGENET_STD
from fdkd_tf.data.manifest import read_manifest, write_manifest_fixture

ROWS = 12  # per split in the fixture: 3 classes x 4


@pytest.fixture(scope="module")
def fixture_dir(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("manifest"))
    keys = write_manifest_fixture(root)
    with open(keys["manifest"], encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    return root, keys, lines


def variant(fixture_dir, name: str, lines: list, **changes) -> DataConfig:
    """A CSV beside the fixture's files with ``lines``, and the config that reads it."""
    root, keys, _ = fixture_dir
    path = os.path.join(root, name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return DataConfig(**{**keys, "manifest": path, **changes})


def test_fixture_loads_with_sorted_classes_and_the_csv_split_sizes(fixture_dir):
    _, keys, _ = fixture_dir
    bundle = build_datasets(DataConfig(**keys), seed=0)
    assert bundle.class_names == ["class_0", "class_1", "class_2"]
    assert bundle.sizes == {"train": ROWS, "val": ROWS, "test": ROWS}
    assert bundle.modalities == {"teacher": "image", "student": "audio"}
    assert bundle.input_shapes == {"teacher": (32, 32, 3), "student": (129, 4000 // 128 + 1, 1)}


def test_npy_and_image_views_equal_the_files(fixture_dir):
    """Test views against numpy: the stored array exactly, the PNG normalised with the ImageNet statistics."""
    root, keys, lines = fixture_dir
    config = DataConfig(**{**keys, "teacher": "image", "student": "features", "image_size": 24})
    bundle = build_datasets(config, seed=0)
    test_rows = [line.split(",") for line in lines[1:] if line.startswith("test,")]
    elements = list(bundle.ordered["test"].as_numpy_iterator())
    assert len(elements) == len(test_rows)
    import tensorflow as tf

    for (inputs, label), row in zip(elements, test_rows):
        np.testing.assert_array_equal(inputs["student"], np.load(os.path.join(root, row[4])))
        pixels = tf.io.decode_png(tf.io.read_file(os.path.join(root, row[2]))).numpy().astype(np.float64)
        expected = (pixels / 255.0 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
        np.testing.assert_allclose(inputs["teacher"], expected, atol=1e-5)  # 24 -> 24: bilinear resize is the identity
        assert label == int(row[1].split("_")[1])


def test_audio_view_peaks_at_each_class_tone(fixture_dir):
    """The 8 kHz wavs are resampled to 16 kHz: a tone of f Hz peaks in STFT bin f / 16000 * 256."""
    _, keys, _ = fixture_dir
    bundle = build_datasets(DataConfig(**keys), seed=0)
    for inputs, label in bundle.ordered["test"].as_numpy_iterator():
        spectrum = inputs["student"][..., 0].mean(axis=1)  # (129,)
        expected_bin = 300.0 * (label + 1) / 16000 * 256
        assert abs(int(np.argmax(spectrum)) - expected_bin) <= 1


def test_classes_txt_orders_the_classes_and_rejects_other_labels(fixture_dir):
    root, keys, lines = fixture_dir
    directory = os.path.join(root, "with_classes")
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "classes.txt"), "w", encoding="utf-8") as handle:
        handle.write("class_2\nclass_1\nclass_0\n")
    moved = [lines[0]] + [",".join(f"../{cell}" if i >= 2 else cell for i, cell in enumerate(line.split(","))) for line in lines[1:]]
    config = variant(fixture_dir, "with_classes/pairs.csv", moved)
    bundle = build_datasets(config, seed=0)
    assert bundle.class_names == ["class_2", "class_1", "class_0"]
    first_test = next(line for line in moved if line.startswith("test,"))
    _, label = next(bundle.ordered["test"].as_numpy_iterator())
    assert bundle.class_names[label] == first_test.split(",")[1]
    moved.append(moved[-1].replace("class_", "other_", 1))
    bad = variant(fixture_dir, "with_classes/pairs.csv", moved)
    with pytest.raises(DataFormatError, match=rf"pairs.csv, line {len(moved)}: label 'other_\d' is not in .*classes.txt"):
        build_datasets(bad, seed=0)


def test_without_val_rows_a_stratified_share_of_train_validates(fixture_dir):
    _, _, lines = fixture_dir
    config = variant(fixture_dir, "no_val.csv", [line for line in lines if not line.startswith("val,")], val_fraction=0.25)
    bundle = build_datasets(config, seed=0)
    assert bundle.sizes == {"train": ROWS - 3, "val": 3, "test": ROWS}
    labels = np.concatenate([y for _, y in bundle.val.as_numpy_iterator()])
    assert sorted(labels.tolist()) == [0, 1, 2]  # one per class


def _bad_rows(root: str, lines: list) -> dict:
    """Each bad-row case: (the CSV line put in place of line 2, the reason the error gives)."""
    header, good = lines[0], lines[1].split(",")
    with open(os.path.join(root, "garbage.png"), "wb") as handle:
        handle.write(b"not an image at all")
    with open(os.path.join(root, "garbage.wav"), "wb") as handle:
        handle.write(b"RIFF....WAVEjunk" * 4)
    open(os.path.join(root, "empty.png"), "wb").close()
    np.save(os.path.join(root, "wide.npy"), np.zeros(9, np.float32))

    def row(**cells):
        fields = dict(zip(header.split(","), good))
        fields.update(cells)
        return ",".join(fields.values())

    return {
        "unknown split": (row(split="training"), "split must be one of train, val, test, got 'training'"),
        "empty label": (row(label=""), "empty label"),
        "missing file": (row(image="image/nope.png"), r"column 'image': .*nope.png: file not found"),
        "empty file": (row(image="empty.png"), r"column 'image': .*empty.png: empty file"),
        "unreadable image": (row(image="garbage.png"), r"column .image.: .*garbage.png: not a JPEG, PNG, GIF or BMP image"),
        "unreadable audio": (row(audio="garbage.wav"), r"column 'audio': .*garbage.wav: unreadable audio file"),
        "kind of another column": (row(audio="image/train_000.png"), r"column 'audio': 'image/train_000.png' is image, but the column holds audio"),
        "unknown extension": (row(audio="audio/clip.xyz"), r"column 'audio': cannot tell the kind of 'audio/clip.xyz' .* set data.student_kind"),
        "empty cell": (row(audio=""), r"column 'audio' is empty"),
        "too many fields": (row() + ",extra", r"more fields than the header's 5"),
    }


def test_every_bad_row_is_an_error_naming_its_line(fixture_dir):
    root, _, lines = fixture_dir
    cases = _bad_rows(root, lines)
    for name, (bad_line, reason) in cases.items():
        config = variant(fixture_dir, "bad.csv", [lines[0], lines[1], bad_line] + lines[2:])
        with pytest.raises(DataFormatError, match=rf"bad.csv, line 3: {reason}.*set data.on_bad_sample: skip") as caught:
            read_manifest(config)
        assert "\n" not in str(caught.value), name


def test_array_shape_unlike_the_columns_first_is_a_bad_row(fixture_dir):
    _, _, lines = fixture_dir
    bad = lines[1].rsplit(",", 1)[0] + ",wide.npy"
    config = variant(fixture_dir, "bad_shape.csv", lines + [bad], student="features")
    with pytest.raises(DataFormatError, match=rf"line {len(lines) + 1}: column 'features': .*wide.npy holds an array of shape \(9,\), the column's first \(8,\)"):
        read_manifest(config)


def test_skip_drops_and_counts_every_bad_row(fixture_dir):
    root, _, lines = fixture_dir
    cases = _bad_rows(root, lines)
    config = variant(fixture_dir, "bad_skip.csv", lines + [line for line, _ in cases.values()], on_bad_sample="skip")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bundle = build_datasets(config, seed=0)
    messages = [str(w.message) for w in caught if issubclass(w.category, DatasetWarning)]
    assert any(f"skipped {len(cases)} bad rows" in message for message in messages), messages
    assert bundle.sizes == {"train": ROWS, "val": ROWS, "test": ROWS}  # every good row kept


def test_kind_override_reads_a_file_the_extension_does_not_name(fixture_dir):
    root, _, lines = fixture_dir
    shutil.copy(os.path.join(root, "features", "train_000.npy"), os.path.join(root, "features", "train_000.array"))
    renamed = [lines[0], lines[1].replace("train_000.npy", "train_000.array")] + lines[2:]
    config = variant(fixture_dir, "override.csv", renamed, student="features")
    with pytest.raises(DataFormatError, match="set data.student_kind"):
        read_manifest(config)
    table = read_manifest(variant(fixture_dir, "override.csv", renamed, student="features", student_kind="npy"))
    assert table.columns["student"].kind == "npy" and table.columns["student"].shape == (8,)


def test_column_keys_must_name_columns(fixture_dir):
    _, keys, _ = fixture_dir
    with pytest.raises(ConfigError, match=r"'data.student' must name a modality column of .*\(image, audio, features\), got 'depth'"):
        build_datasets(DataConfig(**{**keys, "student": "depth"}), seed=0)
    with pytest.raises(ConfigError, match="'data.manifest' must be the manifest CSV"):
        build_datasets(DataConfig(**{**keys, "manifest": "/nowhere/pairs.csv"}), seed=0)


def test_teacher_and_student_columns_need_no_keys(fixture_dir):
    _, _, lines = fixture_dir
    renamed = ["split,label,teacher,student,features"] + lines[1:]
    bundle = build_datasets(variant(fixture_dir, "named.csv", renamed, teacher="pix", student="fou"), seed=0)
    assert bundle.modalities == {"teacher": "teacher", "student": "student"}


def test_text_and_video_columns(fixture_dir, tmp_path):
    """Text cells become the BERT ids of the independent WordPiece; a video's test frames are the centred seconds."""
    from av_fixtures import write_video
    from crisismmd_fixtures import TEXTS, expected_token_ids, write_vocabulary

    root, keys, lines = fixture_dir
    rows = ["split,label,text,clip"]
    for number, line in enumerate(lines[1:]):
        split, label = line.split(",")[:2]
        with open(os.path.join(root, f"text_{number}.txt"), "w", encoding="utf-8") as handle:
            handle.write(TEXTS[number % len(TEXTS)])
        if number < 2:
            write_video(os.path.join(root, f"clip_{number}.mp4"), seconds=3.0, seed=number)
        rows.append(f"{split},{label},text_{number}.txt,clip_{number % 2}.mp4")
    config = variant(fixture_dir, "text_video.csv", rows, teacher="clip", student="text", num_frames=2,
                     vocabulary=write_vocabulary(tmp_path / "vocab.txt"), max_length=12, image_size=16)
    bundle = build_datasets(config, seed=0)
    assert bundle.input_shapes == {"teacher": (2, 16, 16, 3), "student": (12,)}
    assert bundle.precomputed_views == ("student",)
    test_numbers = [n for n, line in enumerate(lines[1:]) if line.startswith("test,")]
    for (inputs, _), number in zip(bundle.ordered["test"].as_numpy_iterator(), test_numbers):
        assert inputs["student"].tolist() == expected_token_ids(TEXTS[number % len(TEXTS)], 12)
        frames = inputs["teacher"]
        assert not np.allclose(frames[0], frames[1])  # seconds 0 and 1 (centres of 3 s / 2) have other colours
    train_batch, _ = next(iter(bundle.train))
    assert train_batch["teacher"].shape == (4, 2, 16, 16, 3)


def test_fixture_trains_one_epoch_through_tools_train(fixture_dir, repo_root, tmp_path):
    """wav + png + npy manifest, end to end as a user runs it; the metrics count the CSV's rows."""
    _, keys, _ = fixture_dir
    config = tmp_path / "manifest.yaml"
    data = {key: value for key, value in keys.items()}
    config.write_text(
        "experiment: {name: manifest, seed: 0}\n"
        f"data: {json.dumps(data)}\n"
        "model:\n  teacher: {arch: small_cnn, filters: [8], feature_dim: 16}\n"
        "  student: {arch: small_cnn, filters: [8], feature_dim: 16}\n"
        "teacher: {epochs: 1}\ntrain: {epochs: 1, verbose: 0}\n"
    )
    run_dir = tmp_path / "run"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, os.path.join(repo_root, "tools", "train.py"), "--config", str(config),
                             "--output", str(run_dir)], capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["students"]["audio"]["modality"] == "audio"
    assert 0.0 <= metrics["students"]["audio"]["test_accuracy"] <= 1.0
    assert (run_dir / "student.keras").is_file()


def test_registry_declares_the_audio_front_end(fixture_dir):
    """Export asks the registry: the student column ``audio`` gets the vggsound front end at 16 kHz,
    and its waveforms are the test crops the view's spectrograms were computed from."""
    import tensorflow as tf

    from fdkd_tf.layers.audio_frontend import vggsound_spectrogram

    _, keys, _ = fixture_dir
    info = dataset_info("manifest")
    assert (info.audio_frontend.kind, info.audio_frontend.sample_rate, info.audio_frontend.modality) == ("vggsound", 16000, "audio")
    config = DataConfig(**keys)
    waves, labels = info.audio_frontend.waveforms(config, "test", 3)
    assert waves.shape == (3, 4000)
    views = [(x["student"], y) for x, y in build_datasets(config, seed=0).ordered["test"].take(3).as_numpy_iterator()]
    for wave, label, (view, view_label) in zip(waves, labels, views):
        assert label == view_label
        np.testing.assert_allclose(vggsound_spectrogram(tf.constant(wave)).numpy()[..., None], view, atol=1e-5)
