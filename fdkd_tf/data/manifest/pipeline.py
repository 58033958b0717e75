"""``data.name: manifest``: streaming `tf.data` pipelines over a checked manifest.

Only the table (paths, labels, and text token ids) is held in memory; files are
read and decoded in a parallel map, batched and prefetched. A file that passed the
header checks but fails to decode stops the run with its path, or is dropped
(``data.on_bad_sample: skip``, logged by `tf.data`).
"""

from __future__ import annotations

import functools
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.audiovisual import validation_split
from fdkd_tf.data.bundle import MODALITY_KEYS, DatasetBundle
from fdkd_tf.data.determinism import shuffled_with_seeds, with_determinism
from fdkd_tf.data.errors import DataFormatError, DatasetWarning
from fdkd_tf.data.manifest.fixture import write_manifest_fixture
from fdkd_tf.data.manifest.table import ManifestTable, read_manifest
from fdkd_tf.data.manifest.views import (
    AUDIO_FRONTEND,
    SAMPLE_RATE,
    STABLE_KINDS,
    audio_samples,
    cell_view,
    crop_waveform,
    decode_audio_file,
    view_shape,
)
from fdkd_tf.data.registry import AudioFrontendSpec, register_dataset
from fdkd_tf.data.sample_store import files_fingerprint


def _tokenize(table: ManifestTable, data_cfg: DataConfig) -> dict:
    """``{key: (rows, max_length) int32}`` token ids of the text columns, in row order."""
    from fdkd_tf.data.text import encode_texts, load_tokenizer

    texts = {key: column for key, column in table.columns.items() if column.kind == "text"}
    if not texts:
        return {}
    if not data_cfg.vocabulary:
        raise ConfigError(
            f"config key 'data.vocabulary' must be a BERT vocabulary file or preset directory: {table.path} "
            f"has text column(s) {', '.join(column.name for column in texts.values())}"
        )
    tokenizer = load_tokenizer(data_cfg.vocabulary)
    ids = {}
    for key in texts:
        contents = []
        for row in table.rows:
            with open(row.paths[key], encoding="utf-8") as handle:
                contents.append(handle.read().strip())
        ids[key] = encode_texts(tokenizer, contents, data_cfg.max_length)
    return ids


def make_manifest_pipeline(
    table: ManifestTable,
    rows: np.ndarray,
    tokens: dict,
    data_cfg: DataConfig,
    training: bool,
    seed: Optional[int],
    deterministic: bool,
    batch: bool = True,
    keys: tuple = MODALITY_KEYS,
    with_index: bool = False,
    epoch: Optional[int] = None,
) -> tf.data.Dataset:
    """The split holding ``table.rows[rows]`` -> ``({"teacher", "student"}, label)`` pipeline.

    Args:
        table: the checked manifest.
        rows: int64 positions in ``table.rows`` of the split's rows, in split order.
        tokens: text token ids per key (`_tokenize`), indexed like ``table.rows``.
        data_cfg: the ``data`` section.
        training: shuffle (reshuffled each epoch) and augment.
        seed: seed of the shuffle and the augmentation (training only).
        deterministic: reproducible element order of the parallel map.
        batch: batch and prefetch.
        keys: the modality keys to read (the others are not decoded).
        with_index: add ``"index"``, each sample's int64 position in the split.
        epoch: training only: that epoch's order and augmentation
            (`fdkd_tf.data.determinism.training_order`); None reshuffles every pass.
    """
    chosen = [table.rows[i] for i in rows]
    cells = {}
    for key in keys:
        if table.columns[key].kind == "text":
            cells[key] = tf.constant(tokens[key][rows], tf.int32)
        else:
            cells[key] = tf.constant([row.paths[key] for row in chosen], tf.string, shape=[len(chosen)])
    labels = tf.constant([row.label for row in chosen], tf.int32, shape=[len(chosen)])
    dataset = tf.data.Dataset.from_tensor_slices((cells, labels, tf.range(len(chosen), dtype=tf.int64)))

    def load(row, element_seed):
        cell, label, position = row
        per_view = tf.stack([tf.stack([element_seed, tf.constant(i, tf.int64)]) for i in range(3)])  # (3, 2)
        inputs = {}
        for key in keys:
            column = table.columns[key]
            inputs[key] = cell_view(column.kind, cell[key], column.shape, data_cfg, training, per_view)
        if with_index:
            inputs["index"] = position
        return inputs, label

    dataset = shuffled_with_seeds(dataset, data_cfg.shuffle_buffer, seed, epoch, training).map(
        load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic or not training
    )
    if data_cfg.on_bad_sample == "skip":
        dataset = dataset.ignore_errors(log_warning=True)
    if batch:
        dataset = dataset.batch(data_cfg.batch_size).prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic or not training)


def split_positions(table: ManifestTable, data_cfg: DataConfig) -> dict:
    """``{split: int64 positions in table.rows}``; without val rows, a stratified share of train validates."""
    positions = {
        split: np.array([i for i, row in enumerate(table.rows) if row.split == split], np.int64)
        for split in ("train", "val", "test")
    }
    if positions["val"].size == 0 and positions["train"].size:
        labels = np.array([table.rows[i].label for i in positions["train"]], np.int64)
        train_idx, val_idx = validation_split(labels, data_cfg.val_fraction, data_cfg.split_seed)
        positions["train"], positions["val"] = positions["train"][train_idx], positions["train"][val_idx]
    for split, found in positions.items():
        if found.size == 0:
            raise DataFormatError(f"{table.path}: the {split} split has no usable row; add rows with split {split}")
    return positions


def build_manifest(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """The three pipelines of the manifest CSV ``data.manifest``.

    Returns:
        A `DatasetBundle` with ``ordered`` test-mode pipelines and ``indexed`` makers
        (so caches, the teacher cache and exact resume work as for the paper datasets).

    Raises:
        ConfigError: for a missing manifest, a column key naming no column, or text
            without ``data.vocabulary``.
        DataFormatError: naming the CSV line of the first bad row (``on_bad_sample: error``),
            or a split with no usable row.
    """
    table = read_manifest(data_cfg)
    if table.skipped:
        shown = "; ".join(table.skipped[:5]) + ("; ..." if len(table.skipped) > 5 else "")
        warnings.warn(
            f"manifest: skipped {len(table.skipped)} bad rows of {table.path} (data.on_bad_sample: skip): {shown}",
            DatasetWarning,
            stacklevel=2,
        )
    positions = split_positions(table, data_cfg)
    tokens = _tokenize(table, data_cfg)
    pipelines, ordered, indexed = {}, {}, {}
    for split, rows in positions.items():
        training = split == "train"
        make = functools.partial(make_manifest_pipeline, table, rows, tokens, data_cfg)
        pipelines[split] = make(training, seed, deterministic)
        ordered[split] = make(False, None, True, batch=False)
        indexed[split] = functools.partial(_indexed, make, training, seed, deterministic)
    columns = table.columns
    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=len(table.class_names),
        class_names=list(table.class_names),
        input_shapes={key: view_shape(column.kind, data_cfg, column.shape) for key, column in columns.items()},
        modalities={key: column.name for key, column in columns.items()},
        sizes={split: int(rows.size) for split, rows in positions.items()},
        ordered=ordered,
        indexed=indexed,
        deterministic_train_views={key: column.kind in STABLE_KINDS for key, column in columns.items()},
        precomputed_views=tuple(key for key, column in columns.items() if column.kind == "text"),
        fingerprint=files_fingerprint([table.path] + [path for row in table.rows for path in row.paths.values()]),
    )


def _indexed(make, training, seed, deterministic, keys, epoch=None):
    """`DatasetBundle.indexed` of one split."""
    return make(training, seed, deterministic, keys=tuple(keys), with_index=True, epoch=epoch if training else None)


def manifest_waveforms(data_cfg: DataConfig, split: str, count: Optional[int] = None):
    """The student column's clips of a split as the test view crops them, and their labels.

    Export verifies and calibrates its audio front end on these (the student column
    must be called ``audio``, the `AudioFrontendSpec` modality).
    """
    table = read_manifest(data_cfg)
    rows = [table.rows[i] for i in split_positions(table, data_cfg)[split]][:count]
    num_samples = audio_samples(data_cfg)
    waves = [crop_waveform(decode_audio_file(row.paths["student"]), num_samples, False, None).numpy() for row in rows]
    return np.asarray(waves, np.float32).reshape(len(rows), num_samples), np.array([row.label for row in rows], np.int32)


register_dataset(
    "manifest",
    audio_frontend=AudioFrontendSpec(AUDIO_FRONTEND, SAMPLE_RATE, modality="audio", waveforms=manifest_waveforms),
    fixture=write_manifest_fixture,
)(build_manifest)
