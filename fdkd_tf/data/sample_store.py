"""Per-sample arrays computed once and looked up by sample index in a `tf.data` pipeline.

Both caches of the project are one of these: the input cache (`fdkd_tf.data.caching`,
deterministic views such as a clip's reference spectrogram) and the teacher output
cache (`fdkd_tf.training.teacher_cache`, a frozen teacher's features and logits).

A store holds, per name, one array whose row ``i`` belongs to sample ``i`` of a split
(the order of `DatasetBundle.ordered`). It lives in host memory (``memory``) or in
``.npy`` files (``disk``), read through memory maps so that only the rows of a batch
are paged in. The pipeline carries sample indices, not the arrays, through its
shuffle, and `attach_store` gathers a batch's rows after batching: the shuffle buffer
stays a buffer of indices however large the cached rows are.

Disk stores are written atomically and verified: every file is written under a
temporary name and moved into place, and a ``store.json`` written last records the
store's key (a fingerprint of everything that determines its content), each array's
shape, dtype and checksum. A store is read only when its key matches and every file
checks out; a missing, stale or truncated store is rebuilt, never read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from typing import Callable, Iterable, Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError

MODES = ("auto", "memory", "disk", "off")


class IncompleteSplit(ValueError):
    """A pass over a split yielded fewer samples than it holds (``data.on_bad_sample:
    skip`` dropped some), so its rows cannot be matched to sample indices."""

MANIFEST = "store.json"
_CHUNK = 1 << 24  # bytes per read when checksumming a file


def fingerprint(*parts) -> str:
    """A short stable hash of JSON-serialisable ``parts`` (dict keys sorted)."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def array_fingerprint(arrays: Iterable[np.ndarray]) -> str:
    """Hash of the bytes, shapes and dtypes of ``arrays`` (e.g. a model's weights)."""
    digest = hashlib.sha256()
    for array in arrays:
        array = np.ascontiguousarray(array)
        digest.update(f"{array.dtype.str}{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()[:32]


def file_checksum(path: str) -> str:
    """blake2b of a file's bytes, read in chunks."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class SampleStore:
    """Named per-sample arrays of one split, in memory or memory-mapped from disk.

    Attributes:
        arrays: ``{name: array}``, every array with the same first dimension.
        size: number of samples (rows).
        location: the store's directory for a disk store, else None.
    """

    def __init__(self, arrays: dict, location: Optional[str] = None):
        sizes = {len(array) for array in arrays.values()}
        if len(sizes) > 1:
            raise ValueError(f"a sample store needs arrays with one row per sample, got row counts {sorted(sizes)}")
        self.arrays = dict(arrays)
        self.size = sizes.pop() if sizes else 0
        self.location = location

    @property
    def nbytes(self) -> int:
        return int(sum(array.nbytes for array in self.arrays.values()))

    def rows(self, indices: np.ndarray) -> list[np.ndarray]:
        """The rows ``indices`` of every array, in the order of `names`."""
        indices = np.asarray(indices, np.int64)
        order = np.argsort(indices, kind="stable")  # memory maps read fastest in file order
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))
        sorted_indices = indices[order]
        return [np.ascontiguousarray(np.asarray(self.arrays[name][sorted_indices])[inverse]) for name in self.names]

    @property
    def names(self) -> list[str]:
        return sorted(self.arrays)


def _read_manifest(directory: str) -> Optional[dict]:
    path = os.path.join(directory, MANIFEST)
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def _file_name(name: str) -> str:
    return name.replace("/", "__") + ".npy"


def open_disk_store(directory: str, key: str) -> tuple[Optional[SampleStore], str]:
    """The disk store in ``directory`` if it holds ``key`` and every file is intact.

    Returns:
        ``(store, "")``, or ``(None, why)`` when there is nothing valid to read
        (``why`` is empty when the directory holds no store at all).
    """
    manifest = _read_manifest(directory)
    if manifest is None:
        return None, ("" if not os.path.exists(directory) else f"{directory} holds no complete store")
    if manifest.get("key") != key:
        return None, f"{directory} was built for other weights, data or settings"
    arrays = {}
    for name, entry in manifest.get("arrays", {}).items():
        path = os.path.join(directory, _file_name(name))
        if not os.path.isfile(path) or os.path.getsize(path) != entry["bytes"] or file_checksum(path) != entry["checksum"]:
            return None, f"{path} is missing, truncated or corrupt"
        try:
            array = np.load(path, mmap_mode="r")
        except (OSError, ValueError) as error:
            return None, f"{path} cannot be read ({error})"
        if list(array.shape) != entry["shape"] or array.dtype.str != entry["dtype"]:
            return None, f"{path} holds {array.shape} {array.dtype}, its manifest says {entry['shape']} {entry['dtype']}"
        arrays[name] = array
    return SampleStore(arrays, location=directory), ""


def write_disk_store(directory: str, key: str, arrays: dict) -> SampleStore:
    """Writes ``arrays`` as a store under ``directory`` atomically and reopens it mapped.

    Files go to a temporary sibling directory that replaces ``directory`` only when
    complete; the manifest, written last, is what makes a store readable.
    """
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    temporary = f"{directory}.tmp-{os.getpid()}"
    shutil.rmtree(temporary, ignore_errors=True)
    os.makedirs(temporary)
    entries = {}
    for name, array in arrays.items():
        path = os.path.join(temporary, _file_name(name))
        np.save(path, np.ascontiguousarray(array))
        entries[name] = {
            "shape": list(array.shape), "dtype": np.asarray(array).dtype.str,
            "bytes": os.path.getsize(path), "checksum": file_checksum(path),
        }
    with open(os.path.join(temporary, MANIFEST), "w", encoding="utf-8") as handle:
        json.dump({"key": key, "arrays": entries}, handle, indent=2)
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(temporary, directory)
    store, why = open_disk_store(directory, key)
    if store is None:  # pragma: no cover - the files were just written
        raise OSError(f"cannot reopen the store just written to {directory}: {why}")
    return store


def collect(batches: Iterable[dict], size: int, what: str) -> dict:
    """Concatenates the ``{name: rows}`` batches of an ordered pass into arrays.

    Raises:
        ValueError: when the pass yields another number of samples than ``size``.
    """
    parts: dict[str, list] = {}
    for batch in batches:
        for name, rows in batch.items():
            parts.setdefault(name, []).append(np.asarray(rows))
    arrays = {name: np.concatenate(values) for name, values in parts.items()}
    counts = {len(array) for array in arrays.values()} or {0}
    if counts != {size}:
        raise ValueError(f"{what}: the ordered pass yielded {sorted(counts)} samples, the split has {size}")
    return arrays


def build_store(
    compute: Callable[[], dict], mode: str, directory: Optional[str], key: str, log: Callable[[str], None], what: str
) -> SampleStore:
    """A store of ``compute()``'s arrays: read from ``directory`` when a valid disk
    store of ``key`` is there, else computed (and written, for ``disk``)."""
    if mode == "disk":
        store, why = open_disk_store(directory, key)
        if store is not None:
            log(f"{what}: read from {directory}")
            return store
        if why:
            log(f"{what}: rebuilding, {why}")
        return write_disk_store(directory, key, compute())
    return SampleStore(compute())


def resolve_mode(mode: str, key: str, estimated_bytes: int, memory_budget: int, directory: Optional[str]) -> str:
    """``memory``/``disk``/``off`` for a requested mode; ``auto`` picks memory when the
    estimate fits ``memory_budget``, else disk when a directory is available.

    Raises:
        ConfigError: for an unknown mode, or ``disk`` without a directory.
    """
    if mode not in MODES:
        raise ConfigError(f"config key '{key}' must be one of {', '.join(MODES)}, got {mode!r}")
    if mode == "disk" and directory is None:
        raise ConfigError(
            f"config key '{key}': disk needs a directory to write to; run through tools/train.py "
            "(it caches in the run directory) or choose memory"
        )
    if mode == "auto":
        if estimated_bytes <= memory_budget:
            return "memory"
        return "disk" if directory is not None else "off"
    return mode


def attach_store(dataset: tf.data.Dataset, store: SampleStore, place: Callable[[dict, dict], dict], specs: dict) -> tf.data.Dataset:
    """Adds a batch's store rows to each ``(inputs, labels)`` batch of ``dataset``.

    Args:
        dataset: batched pipeline whose inputs carry ``"index"`` (int64 sample indices).
        store: the split's store.
        place: ``(inputs, {name: rows}) -> inputs``, where the rows go.
        specs: ``{name: (row shape, dtype)}`` of the store's arrays.

    Returns:
        The pipeline with the rows in place (gathered on the host, in the pipeline).
    """
    names = store.names
    dtypes = [tf.as_dtype(specs[name][1]) for name in names]

    def gather(indices):
        return store.rows(indices)

    def add(inputs, labels):
        rows = tf.numpy_function(gather, [inputs["index"]], dtypes, stateful=False)
        found = {}
        for name, value in zip(names, rows):
            value.set_shape([None, *specs[name][0]])
            found[name] = value
        return place(dict(inputs), found), labels

    return dataset.map(add, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)


def drop_index(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """The pipeline without the ``"index"`` input that lookups need."""

    def drop(inputs, labels):
        return {key: value for key, value in inputs.items() if key != "index"}, labels

    return dataset.map(drop)


def files_fingerprint(paths: Iterable[str]) -> str:
    """Hash of the names, sizes and modification times of ``paths`` (missing: skipped)."""
    digest = hashlib.sha256()
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            continue
        digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:32]
