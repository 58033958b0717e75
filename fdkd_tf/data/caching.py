"""The input cache (``data.cache``): deterministic views computed once, reused every epoch.

A view is deterministic when a sample's model input is the same at every epoch: every
view of the validation and test pipelines (evaluation transforms), and in training a
view without random augmentation (`DatasetBundle.deterministic_train_views`, e.g. the
reference log spectrogram of AVE / CREMA-D clips). Such views are computed in one pass
per split into a `fdkd_tf.data.sample_store.SampleStore`; the pipelines then shuffle and
batch sample indices and gather the cached rows, so the STFT or the JPEG decode of a
cached view runs once per run instead of once per epoch. Views with random augmentation
(training frames, VGGSound's random 5 s crop, NYU's paired crops) are still computed at
every step, with the same seeds as without the cache: a cached pipeline yields exactly
the tensors of the uncached one.

Why not ``tf.data.Dataset.cache``: it caches whole elements, so it must sit before the
shuffle (a shuffle buffer of 1 MB spectrograms) and cannot keep the random view out;
its file cache leaves a lock file behind when a run is killed mid-epoch.

Modes: ``memory`` holds the arrays in host memory; ``disk`` writes them under the run
directory (resumable, keyed by the data and its settings); ``auto`` picks memory when
the cache fits `MEMORY_BUDGET_BYTES`, else disk, and does nothing where nothing would
be saved (views already held as arrays, e.g. mfeat and CrisisMMD token ids).
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Callable, Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import DataConfig
from fdkd_tf.data.bundle import MODALITY_KEYS, SPLITS, DatasetBundle
from fdkd_tf.data.sample_store import (
    IncompleteSplit,
    SampleStore,
    attach_store,
    build_store,
    drop_index,
    fingerprint,
    resolve_mode,
)

#: ``auto`` keeps a cache in host memory up to this size, on disk beyond it.
MEMORY_BUDGET_BYTES = 4 << 30
#: data keys that change no view (they order, batch or select samples only).
_VIEW_NEUTRAL_KEYS = ("batch_size", "shuffle_buffer", "cache", "on_bad_sample")


def cacheable_keys(bundle: DatasetBundle, split: str) -> list[str]:
    """The modality keys of ``split`` whose view the input cache may hold."""
    if not bundle.indexed:
        return []
    return [
        key for key in MODALITY_KEYS
        if key not in bundle.precomputed_views and (split != "train" or bundle.deterministic_train_views.get(key, False))
    ]


def _row_spec(bundle: DatasetBundle, split: str, key: str) -> tuple[tuple, np.dtype]:
    spec = bundle.ordered[split].element_spec[0][key] if split in bundle.ordered else None
    if spec is None:
        return tuple(bundle.input_shapes[key]), np.dtype("float32")
    return tuple(spec.shape), np.dtype(spec.dtype.as_numpy_dtype)


def estimated_bytes(bundle: DatasetBundle, plan: dict) -> int:
    """Bytes the cache of ``plan`` (``{split: keys}``) takes; unknown sizes count as infinite."""
    total = 0
    for split, keys in plan.items():
        for key in keys:
            shape, dtype = _row_spec(bundle, split, key)
            if any(dim is None for dim in shape):
                return math.inf
            total += bundle.sizes[split] * int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    return total


def compute_views(bundle: DatasetBundle, split: str, keys: list[str]) -> dict:
    """One pass over ``split`` loading only ``keys``: ``{key: (n, ...) array}`` in sample order."""
    arrays, seen = {}, np.zeros(bundle.sizes[split], bool)
    for inputs, _ in bundle.indexed[split](tuple(keys)).as_numpy_iterator():
        index = inputs["index"]
        for key in keys:
            if key not in arrays:
                arrays[key] = np.empty((bundle.sizes[split], *inputs[key].shape[1:]), inputs[key].dtype)
            arrays[key][index] = inputs[key]
        seen[index] = True
    if not seen.all():
        raise IncompleteSplit(f"the {split} pipeline skipped {int((~seen).sum())} of {len(seen)} samples")
    return arrays


def cached_maker(make: Callable, store: Optional[SampleStore], specs: dict) -> Callable:
    """``make(keys, epoch)`` with the cached keys gathered from ``store`` instead of loaded."""

    def cached(keys, epoch=None):
        held = [key for key in keys if store is not None and key in store.arrays]
        dataset = make(tuple(key for key in keys if key not in held), epoch=epoch)
        if not held:
            return dataset
        subset = SampleStore({key: store.arrays[key] for key in held})
        return attach_store(dataset, subset, lambda inputs, rows: {**inputs, **rows}, specs).prefetch(tf.data.AUTOTUNE)

    return cached


def apply_input_cache(
    bundle: DatasetBundle,
    data_cfg: DataConfig,
    directory: Optional[str] = None,
    log: Callable[[str], None] = lambda message: None,
) -> DatasetBundle:
    """The bundle with ``data.cache`` applied (a new bundle; ``bundle`` is unchanged).

    Args:
        bundle: what `fdkd_tf.data.build_datasets` returned.
        data_cfg: the ``data`` section (``cache`` and the view settings, which key
            a disk cache).
        directory: where a disk cache lives (the run directory's ``cache/inputs``),
            or None (then ``auto`` never goes to disk and ``disk`` is an error).
        log: receives one line saying what was cached, or why nothing was.

    Returns:
        A bundle whose ``train``/``val``/``test`` (and ``indexed``) read cached views;
        ``input_cache`` records the decision.
    """
    plan = {split: cacheable_keys(bundle, split) for split in SPLITS}
    plan = {split: keys for split, keys in plan.items() if keys}
    size = estimated_bytes(bundle, plan) if plan else 0
    mode = resolve_mode(data_cfg.cache, "data.cache", size, MEMORY_BUDGET_BYTES, directory)
    if not plan or mode == "off":
        if not bundle.indexed:
            reason = "this dataset's bundle gives no indexed pipelines"
        elif not plan:
            reason = "every view is already an in-memory array or randomly augmented"
        elif data_cfg.cache == "off":
            reason = "data.cache: off"
        else:
            reason = f"the cache would take {size / 2**30:.1f} GiB, more than memory allows, and there is no run directory"
        log(f"input cache off: {reason}")
        return dataclasses.replace(bundle, input_cache={"mode": "off", "reason": reason, "keys": {}})
    settings = {name: value for name, value in dataclasses.asdict(data_cfg).items() if name not in _VIEW_NEUTRAL_KEYS}
    indexed, pipelines = dict(bundle.indexed), {}
    for split in SPLITS:
        keys = plan.get(split, [])
        specs = {key: _row_spec(bundle, split, key) for key in keys}
        store = None
        if keys:
            store_key = fingerprint("inputs", settings, bundle.fingerprint, split, keys, bundle.modalities, bundle.sizes[split])
            where = None if directory is None else os.path.join(directory, split)
            try:
                store = build_store(
                    lambda split=split, keys=keys: compute_views(bundle, split, keys),
                    mode, where, store_key, log, f"input cache of {split} ({', '.join(keys)})",
                )
            except IncompleteSplit as error:  # skipped bad samples: this split stays uncached
                log(f"input cache of {split} off: {error}")
                plan[split] = []
                specs = {}
        indexed[split] = cached_maker(bundle.indexed[split], store, specs)
        pipelines[split] = drop_index(indexed[split](MODALITY_KEYS))
    plan = {split: keys for split, keys in plan.items() if keys}
    log(f"input cache ({mode}): " + "; ".join(f"{split}: {', '.join(keys)}" for split, keys in plan.items()))
    return dataclasses.replace(
        bundle,
        train=pipelines["train"], val=pipelines["val"], test=pipelines["test"], indexed=indexed,
        input_cache={"mode": mode, "keys": plan, "bytes": int(size)},
    )
