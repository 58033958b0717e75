"""Tests for fdkd_tf.data.registry: lookup by data.name and registration."""

import pytest

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data import registry
from fdkd_tf.data import available_datasets, build_datasets, register_dataset


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry, so test builders do not leak into other tests."""
    monkeypatch.setattr(registry, "_DATASETS", dict(registry._DATASETS))


def test_mfeat_is_registered():
    assert "mfeat" in available_datasets()


def test_unknown_dataset_names_the_key_and_the_choices():
    with pytest.raises(ConfigError, match=r"data\.name.*mfeat.*'no_such_data'"):
        build_datasets(DataConfig(name="no_such_data"), seed=0)


def test_build_dispatches_with_seed_and_determinism(scratch_registry):
    calls = []

    @register_dataset("toy")
    def build_toy(data_cfg, seed, deterministic=False):
        calls.append((data_cfg.name, seed, deterministic))
        return "bundle"

    assert "toy" in available_datasets()
    assert build_datasets(DataConfig(name="toy"), seed=5, deterministic=True) == "bundle"
    assert calls == [("toy", 5, True)]


def test_duplicate_name_is_rejected(scratch_registry):
    @register_dataset("twice")
    def first(data_cfg, seed, deterministic=False):
        return None

    with pytest.raises(ValueError, match="'twice' is already registered"):

        @register_dataset("twice")
        def second(data_cfg, seed, deterministic=False):
            return None


def test_empty_name_is_rejected():
    with pytest.raises(ValueError, match="non-empty string"):
        register_dataset("")


@pytest.mark.parametrize("name", available_datasets())
def test_each_dataset_declares_what_it_provides_and_its_fixture_builds(name, tmp_path):
    """The registry entry is what other layers rely on: the fixture's bundle serves
    only declared views, and its batches have the shapes the bundle announces."""
    import warnings

    from fdkd_tf.data import dataset_info

    info = dataset_info(name)
    assert info.name == name and info.fixture is not None
    assert info.modalities or name == "manifest"  # only the manifest's views are named by its data (CSV columns)
    keys = info.fixture(str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixtures are not the official split sizes
        bundle = build_datasets(DataConfig(**keys), seed=0)
    assert set(bundle.modalities.values()) <= set(info.modalities or bundle.modalities.values())
    inputs, labels = next(iter(bundle.train))
    for side, shape in bundle.input_shapes.items():
        actual = tuple(inputs[side].shape[1:])
        assert len(actual) == len(shape) and all(s is None or s == a for s, a in zip(shape, actual)), (side, actual, shape)
    labels = labels.numpy()
    valid = labels[labels != keys.get("ignore_label", DataConfig().ignore_label)] if labels.ndim > 1 else labels
    assert valid.size and int(valid.min()) >= 0 and int(valid.max()) < bundle.num_classes
    if info.audio_frontend is not None:
        assert info.audio_frontend.modality in (info.modalities or bundle.modalities.values())


def test_export_asks_the_registry_for_the_audio_front_end(scratch_registry):
    """A user's dataset with an audio front end gets --with-preprocessing; nothing names datasets."""
    from types import SimpleNamespace

    from fdkd_tf.data import AudioFrontendSpec
    from fdkd_tf.export.exporter import audio_datasets, audio_frontend_settings

    @register_dataset("my_audio", modalities=("video", "mic"), audio_frontend=AudioFrontendSpec("vggsound", 8000, "mic"))
    def build(data_cfg, seed, deterministic=False):
        return None

    config = lambda student: SimpleNamespace(data=SimpleNamespace(name="my_audio", student=student))  # noqa: E731
    spec = audio_frontend_settings(config("mic"))
    assert (spec.kind, spec.sample_rate, spec.modality) == ("vggsound", 8000, "mic")
    assert audio_frontend_settings(config("video")) is None
    assert audio_frontend_settings(SimpleNamespace(data=SimpleNamespace(name="mfeat", student="fou"))) is None
    assert "my_audio" in audio_datasets() and "mfeat" not in audio_datasets()
