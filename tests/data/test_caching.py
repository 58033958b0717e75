"""The input cache: exactly the uncached tensors, augmentation still fresh each epoch,
disk stores reused only when valid."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

from av_fixtures import make_ave_release
from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data import build_datasets
from fdkd_tf.data.errors import DatasetWarning
from fdkd_tf.data.ave import prepare_ave
from fdkd_tf.data.caching import apply_input_cache
from fdkd_tf.data.sample_store import MANIFEST


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    raw = str(tmp_path_factory.mktemp("ave_raw"))
    make_ave_release(raw)
    out = str(tmp_path_factory.mktemp("ave"))
    prepare_ave(raw, out, progress=False)
    return out


def _config(root, **overrides):
    values = dict(name="ave", root=root, teacher="visual", student="audio", batch_size=4, image_size=32, audio_samples=4000)
    values.update(overrides)
    return DataConfig(**values)


def _bundle(config):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # a 3-class fixture, not the release
        return build_datasets(config, seed=0, deterministic=True)


def _epochs(dataset, count=2):
    return [list(dataset.as_numpy_iterator()) for _ in range(count)]


def _assert_same(first, second):
    """Two lists of epochs (lists of batches) hold the same tensors."""
    assert len(first) == len(second)
    first = [batch for epoch in first for batch in epoch]
    second = [batch for epoch in second for batch in epoch]
    assert len(first) == len(second)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(y1, y2)
        assert set(x1) == set(x2) == {"teacher", "student"}
        for key in x1:
            np.testing.assert_array_equal(x1[key], x2[key])


@pytest.mark.parametrize("mode", ["memory", "disk"])
def test_the_cache_yields_exactly_the_uncached_tensors(prepared, tmp_path, mode):
    config = _config(prepared, cache=mode)
    plain = _bundle(config)
    lines = []
    cached = apply_input_cache(plain, config, str(tmp_path), lines.append)
    assert cached.input_cache["mode"] == mode
    # The reference spectrogram is cached in every split; frames only where not augmented.
    assert cached.input_cache["keys"] == {"train": ["student"], "val": ["teacher", "student"], "test": ["teacher", "student"]}
    for split in ("train", "val", "test"):
        _assert_same(_epochs(plain.split(split)), _epochs(cached.split(split)))
    if mode == "disk":
        assert all(os.path.isfile(tmp_path / split / MANIFEST) for split in ("train", "val", "test"))
        assert not [name for name in os.listdir(tmp_path) if ".tmp-" in name]


def test_augmentation_still_varies_across_epochs(prepared):
    config = _config(prepared, cache="memory")
    cached = apply_input_cache(_bundle(config), config)
    first, second = _epochs(cached.train)
    frames = [np.concatenate([x["teacher"] for x, _ in epoch]) for epoch in (first, second)]
    labels = [np.concatenate([y for _, y in epoch]) for epoch in (first, second)]
    assert frames[0].shape == frames[1].shape and not np.array_equal(frames[0], frames[1])
    assert not np.array_equal(labels[0], labels[1]) or True  # the order may coincide on 3 classes
    # The cached spectrograms are the same per clip in both epochs (sorted by content).
    spectra = [np.sort(np.concatenate([x["student"] for x, _ in epoch]).reshape(len(frames[0]), -1), axis=0) for epoch in (first, second)]
    np.testing.assert_array_equal(spectra[0], spectra[1])


def test_a_disk_cache_is_reused_and_a_stale_one_rebuilt(prepared, tmp_path):
    config = _config(prepared, cache="disk")
    lines = []
    apply_input_cache(_bundle(config), config, str(tmp_path), lines.append)
    assert not any("read from" in line for line in lines)
    lines.clear()
    apply_input_cache(_bundle(config), config, str(tmp_path), lines.append)
    assert sum("read from" in line for line in lines) == 3
    lines.clear()
    other = _config(prepared, cache="disk", audio_samples=6000)  # another spectrogram size
    rebuilt = apply_input_cache(_bundle(other), other, str(tmp_path), lines.append)
    assert sum("rebuilding" in line for line in lines) == 3
    _assert_same(_epochs(_bundle(other).val, 1), _epochs(rebuilt.val, 1))


def test_auto_leaves_in_memory_views_alone_and_off_is_off(prepared):
    mfeat = DataConfig()
    bundle = apply_input_cache(build_datasets(mfeat, seed=0), mfeat)
    assert bundle.input_cache["mode"] == "off" and "in-memory array" in bundle.input_cache["reason"]
    off = _config(prepared, cache="off")
    assert apply_input_cache(_bundle(off), off).input_cache == {"mode": "off", "reason": "data.cache: off", "keys": {}}
    auto = _config(prepared)
    assert apply_input_cache(_bundle(auto), auto).input_cache["mode"] == "memory"  # a few MB
    with pytest.raises(ConfigError, match="data.cache': disk needs a directory"):
        disk = _config(prepared, cache="disk")
        apply_input_cache(_bundle(disk), disk)
