"""Per-sample stores: rows in the order asked, disk stores read only when intact and current."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from fdkd_tf.data.sample_store import (
    MANIFEST,
    SampleStore,
    attach_store,
    build_store,
    open_disk_store,
    write_disk_store,
)


def test_store_rows_follow_the_requested_order():
    store = SampleStore({"a": np.arange(10.0)[:, None] * [1, 2], "b": np.arange(10)})
    rows = store.rows(np.array([7, 2, 9, 2]))
    np.testing.assert_array_equal(rows[0], [[7, 14], [2, 4], [9, 18], [2, 4]])
    np.testing.assert_array_equal(rows[1], [7, 2, 9, 2])
    with pytest.raises(ValueError, match="one row per sample"):
        SampleStore({"a": np.zeros(3), "b": np.zeros(4)})


def test_a_disk_store_round_trips_and_leaves_no_temporary_behind(tmp_path):
    arrays = {"x/features": np.random.default_rng(0).normal(size=(5, 3)).astype("float32"), "y": np.arange(5)}
    written = write_disk_store(str(tmp_path / "train"), "key-1", arrays)
    assert os.listdir(tmp_path) == ["train"] and os.path.isfile(tmp_path / "train" / MANIFEST)
    store, why = open_disk_store(str(tmp_path / "train"), "key-1")
    assert why == "" and store.names == written.names == ["x/features", "y"]
    for name, array in arrays.items():
        np.testing.assert_array_equal(store.arrays[name], array)


@pytest.mark.parametrize("damage", ["stale key", "truncated", "flipped byte", "no manifest"])
def test_a_damaged_or_stale_disk_store_is_never_read(tmp_path, damage):
    directory = str(tmp_path / "val")
    write_disk_store(directory, "key-1", {"a": np.arange(100.0)})
    path = os.path.join(directory, "a.npy")
    data = open(path, "rb").read()
    if damage == "truncated":
        open(path, "wb").write(data[:-8])
    elif damage == "flipped byte":
        open(path, "wb").write(data[:-1] + bytes([data[-1] ^ 1]))
    elif damage == "no manifest":  # killed before the manifest, the commit point, was written
        os.remove(os.path.join(directory, MANIFEST))
    key = "key-2" if damage == "stale key" else "key-1"
    store, why = open_disk_store(directory, key)
    assert store is None and why
    lines = []
    rebuilt = build_store(lambda: {"a": np.arange(100.0) * 2}, "disk", directory, key, lines.append, "test store")
    assert any("rebuilding" in line for line in lines)
    np.testing.assert_array_equal(rebuilt.arrays["a"], np.arange(100.0) * 2)


def test_attach_store_gathers_the_rows_of_each_batch():
    store = SampleStore({"cached": np.arange(12.0).reshape(6, 2)})
    dataset = tf.data.Dataset.from_tensor_slices(({"index": np.array([4, 0, 5, 1, 3, 2], np.int64)}, np.arange(6))).batch(4)
    attached = attach_store(dataset, store, lambda inputs, rows: {**inputs, **rows}, {"cached": ((2,), "float64")})
    batches = list(attached.as_numpy_iterator())
    assert attached.element_spec[0]["cached"].shape.as_list() == [None, 2]
    np.testing.assert_array_equal(batches[0][0]["cached"], [[8, 9], [0, 1], [10, 11], [2, 3]])
    np.testing.assert_array_equal(batches[1][0]["cached"], [[6, 7], [4, 5]])
