"""Tests for fdkd_tf.data.spoken_digits: the generated audio task as a registered dataset."""

import os
import warnings

import numpy as np
import pytest

from fdkd_tf.config import ConfigError, DataConfig, load_config
from fdkd_tf.data import build_datasets, spoken_digits
from fdkd_tf.data.errors import MissingProgramError
from fdkd_tf.layers.audio_frontend import AudioFrontend

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_generation_without_espeak_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(spoken_digits.shutil, "which", lambda name: None)
    with pytest.raises(MissingProgramError, match="espeak-ng is not installed.*apt-get install espeak-ng"):
        spoken_digits.prepare_spoken_digits(str(tmp_path))
    assert not os.listdir(tmp_path)


def test_the_cli_prints_one_line_without_espeak(tmp_path, monkeypatch, capsys):
    from fdkd_tf.cli import prepare

    monkeypatch.setattr(spoken_digits.shutil, "which", lambda name: None)
    assert prepare.main(["spoken_digits", "--out", str(tmp_path / "data")]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


def test_the_student_view_is_the_registered_front_end_of_the_waveform(tmp_path):
    keys = spoken_digits.write_spoken_digits_fixture(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = build_datasets(DataConfig(**keys), seed=0)
    assert bundle.sizes == {"train": 10, "val": 10, "test": 10}
    arrays = np.load(tmp_path / spoken_digits.DATA_FILE)
    spec = spoken_digits.FRONTEND
    frontend = AudioFrontend(kind=spec.kind, sample_rate=spec.sample_rate, num_samples=spec.num_samples)
    np.testing.assert_allclose(arrays["spectrogram"][:4], frontend(arrays["waveform"][:4]).numpy(), atol=1e-5)
    (_, labels), ordered = next(iter(bundle.test)), list(bundle.ordered["test"].take(3))
    assert labels.shape[0] == 8 and [int(label) for _, label in ordered] == arrays["label"][arrays["split"] == 2][:3].tolist()


def test_a_missing_root_names_the_key_and_the_command(tmp_path):
    with pytest.raises(ConfigError, match=r"data\.root.*fdkd-prepare spoken_digits"):
        build_datasets(DataConfig(name="spoken_digits", root=str(tmp_path), teacher="pix", student="audio"), seed=0)


def test_the_task_config_is_the_recipe_behind_the_documented_numbers():
    """configs/spoken_digits.yaml equals what the benchmarks ran before it existed: the mfeat
    config with these overrides (benchmarks/export_audio_resnet18.py at 41152f7)."""
    before = load_config(os.path.join(REPO, "configs", "mfeat.yaml"), [
        "experiment.name=spoken-digits", "data.name=spoken_digits", "data.root=runs/spoken-digits/data",
        "data.student=audio", "data.batch_size=32", "model.student.arch=resnet18", "train.epochs=8", "train.verbose=2",
    ])
    assert load_config(os.path.join(REPO, "configs", "spoken_digits.yaml")) == before
