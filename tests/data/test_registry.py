"""Tests for fdkd_tf.data.registry: lookup by data.name and registration."""

import pytest

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data import registry
from fdkd_tf.data import available_datasets, build_datasets, register_dataset


@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the registry, so test builders do not leak into other tests."""
    monkeypatch.setattr(registry, "_BUILDERS", dict(registry._BUILDERS))


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
