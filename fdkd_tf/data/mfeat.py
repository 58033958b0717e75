"""UCI Multiple Features (mfeat): six views of 2,000 handwritten digits.

The default dataset of the project, shipped inside the package
(``fdkd_tf/data/resources/mfeat/``, see its README for source and licence), so an
experiment runs without a download. Any two views form a cross-modal pair: by
default the 16 x 15 pixel image (``pix``) teaches and the 76 Fourier coefficients
of the contour (``fou``) learn. Rows are aligned across files, so sample ``i`` of
one view is sample ``i`` of every other.

The data is small (2,000 rows), so it is read into memory whole; preprocessing is
fitted on the training split only, so no val/test statistics leak into training.
"""

from __future__ import annotations

import functools
import gzip
import importlib.resources
import os
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.determinism import training_order, with_determinism
from fdkd_tf.data.registry import register_dataset
from fdkd_tf.data.sample_store import array_fingerprint
from fdkd_tf.data.splits import stratified_split

NUM_SAMPLES = 2000
NUM_CLASSES = 10
CLASS_NAMES = [str(digit) for digit in range(NUM_CLASSES)]
# View name -> number of feature columns (the label column comes after them).
VIEW_COLUMNS = {"pix": 240, "fou": 76, "fac": 216, "kar": 64, "zer": 47, "mor": 6}
PIX_IMAGE_SHAPE = (16, 15, 1)  # rows, columns, channels; the CSV row is row-major
PIX_MAX_VALUE = 6.0  # pix values are counts 0..6 of dark pixels per window
STD_FLOOR = 1e-6  # constant training columns are centred, not blown up
RESOURCE_PACKAGE = "fdkd_tf.data"
RESOURCE_DIR = ("resources", "mfeat")


def view_filename(view: str) -> str:
    """File name of one view, e.g. ``mfeat-pix.csv.gz`` (the same under ``data.root``)."""
    return f"mfeat-{view}.csv.gz"


def check_view(key: str, view: str) -> None:
    """Raises `ConfigError` naming ``key`` if ``view`` is not an mfeat view."""
    if view not in VIEW_COLUMNS:
        raise ConfigError(
            f"config key '{key}' must be one of {', '.join(VIEW_COLUMNS)} for data.name "
            f"'mfeat', got {view!r}"
        )


def _view_source(view: str, root: Optional[str]):
    """Where one view's file lives: a path under ``root`` or a package resource."""
    if root is None:
        package_files = importlib.resources.files(RESOURCE_PACKAGE)
        return package_files.joinpath(*RESOURCE_DIR, view_filename(view))
    if not os.path.isdir(root):
        raise ConfigError(
            f"config key 'data.root' must be a directory holding the mfeat files, got {root!r} "
            "(not a directory); set data.root: null to use the embedded copy"
        )
    path = os.path.join(root, view_filename(view))
    if not os.path.isfile(path):
        expected = ", ".join(view_filename(name) for name in VIEW_COLUMNS)
        raise ConfigError(
            f"mfeat file not found: {path} (config key 'data.root' = {root!r}); the directory "
            f"must hold {expected} (gzipped CSV, one header row, label in the last column), "
            "or set data.root: null to use the embedded copy"
        )
    return path


def read_view(view: str, root: Optional[str] = None) -> tuple[np.ndarray, np.ndarray]:
    """Reads one view and its labels, and checks the file's shape.

    Args:
        view: one of `VIEW_COLUMNS`.
        root: directory with the mfeat files, or None for the embedded copy.

    Returns:
        ``(features, labels)``: float64 ``(2000, columns)`` and int32 ``(2000,)``.

    Raises:
        ConfigError: if ``root`` or the file under it is missing.
        ValueError: naming the file, if it cannot be parsed or has the wrong
            number of rows or columns or non-digit labels.
    """
    source = _view_source(view, root)
    try:
        if isinstance(source, str):
            table = np.loadtxt(source, delimiter=",", skiprows=1, ndmin=2)
        else:
            with source.open("rb") as raw, gzip.open(raw, "rt") as text:
                table = np.loadtxt(text, delimiter=",", skiprows=1, ndmin=2)
    except (OSError, ValueError, EOFError) as error:
        raise ValueError(
            f"cannot read mfeat file {source}: {error}; it must be a gzipped CSV with one "
            "header row and numbers only"
        ) from None

    expected_shape = (NUM_SAMPLES, VIEW_COLUMNS[view] + 1)
    if table.shape != expected_shape:
        raise ValueError(
            f"mfeat file {source} has {table.shape[0]} data rows x {table.shape[1]} columns, "
            f"expected {expected_shape[0]} x {expected_shape[1]} ({VIEW_COLUMNS[view]} features "
            "+ label); replace it with the original file"
        )
    labels = table[:, -1]
    if not np.all((labels == np.round(labels)) & (labels >= 0) & (labels < NUM_CLASSES)):
        raise ValueError(
            f"mfeat file {source}: the last column must hold the digit labels 0..9; "
            "replace it with the original file"
        )
    return table[:, :-1], labels.astype(np.int32)


def read_aligned_views(
    views: list[str], root: Optional[str] = None
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Reads several views and checks that their rows are the same samples.

    Args:
        views: view names; the first one's labels are the reference.
        root: directory with the mfeat files, or None for the embedded copy.

    Returns:
        ``({view: features}, labels)``.

    Raises:
        ValueError: naming the file whose labels differ from the first view's.
    """
    features, reference_labels = {}, None
    for view in views:
        features[view], labels = read_view(view, root)
        if reference_labels is None:
            reference_labels = labels
        elif not np.array_equal(labels, reference_labels):
            first_bad_row = int(np.flatnonzero(labels != reference_labels)[0])
            raise ValueError(
                f"mfeat file {view_filename(view)} (in {root or 'the embedded copy'}) is not "
                f"aligned with {view_filename(views[0])}: labels first differ at data row "
                f"{first_bad_row}; all files must list the same samples in the same order"
            )
    return features, reference_labels


def fit_standardizer(train_features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and std of the training rows, std floored at `STD_FLOOR`.

    Args:
        train_features: ``(num_train, columns)``.

    Returns:
        ``(mean, std)``, each ``(columns,)``.
    """
    mean = train_features.mean(axis=0)
    std = np.maximum(train_features.std(axis=0), STD_FLOOR)
    return mean, std


def standardize(features: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """``(features - mean) / std`` as float32."""
    return ((features - mean) / std).astype(np.float32)


def pixels_to_images(pixels: np.ndarray) -> np.ndarray:
    """pix rows ``(n, 240)`` with values 0..6 -> images ``(n, 16, 15, 1)`` in [0, 1]."""
    return (pixels / PIX_MAX_VALUE).reshape((-1, *PIX_IMAGE_SHAPE)).astype(np.float32)


def preprocess_view(view: str, features: np.ndarray, train_idx: np.ndarray) -> np.ndarray:
    """Model inputs of one view: pix as an image, other views standardised.

    Args:
        view: the view name.
        features: all rows of the view, ``(2000, columns)``.
        train_idx: training rows; the only ones the statistics are fitted on.

    Returns:
        float32 ``(2000, 16, 15, 1)`` for pix, ``(2000, columns)`` otherwise.
    """
    if view == "pix":
        return pixels_to_images(features)
    mean, std = fit_standardizer(features[train_idx])
    return standardize(features, mean, std)


def shuffle_seed(seed: int) -> int:
    """The experiment seed mapped into the non-negative range tf.data accepts."""
    return int(seed) % (2**31 - 1)



def make_pipeline(
    inputs: dict[str, np.ndarray],
    labels: np.ndarray,
    batch_size: int,
    shuffle_seed_value: Optional[int] = None,
    shuffle_buffer: int = 2048,
    deterministic: bool = False,
    reshuffle: bool = True,
) -> tf.data.Dataset:
    """In-memory arrays -> batched ``({"teacher", "student"}, label)`` pipeline.

    Args:
        inputs: ``{"teacher": array, "student": array}``, same first dimension.
        labels: int32 ``(n,)``.
        batch_size: samples per batch; the last batch may be smaller.
        shuffle_seed_value: shuffle (reshuffled each epoch) with this seed; None
            keeps the order.
        shuffle_buffer: shuffle buffer size (``data.shuffle_buffer``).
        deterministic: set ``tf.data.Options.deterministic``.
        reshuffle: a new order at every pass (False: the same order, for one epoch's
            pipeline, `fdkd_tf.data.determinism.training_order`).

    Returns:
        The prefetched `tf.data.Dataset`.
    """
    dataset = tf.data.Dataset.from_tensor_slices((inputs, labels))
    if shuffle_seed_value is not None:
        dataset = dataset.shuffle(
            shuffle_buffer, seed=shuffle_seed_value, reshuffle_each_iteration=reshuffle
        )
    dataset = dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic)


def indexed_pipeline(split_inputs: dict, split_labels: np.ndarray, data_cfg: DataConfig, train_seed: Optional[int],
                     deterministic: bool, keys, epoch: Optional[int] = None) -> tf.data.Dataset:
    """`DatasetBundle.indexed` of an in-memory split: its pipeline for ``keys`` with indices.

    The same shuffle (a permutation fixed by the seed, the epoch and the size) whatever
    the keys; ``epoch`` fixes that epoch's order (None: a new order at every pass).
    """
    chosen = {key: split_inputs[key] for key in keys}
    chosen["index"] = np.arange(len(split_labels), dtype=np.int64)
    order_seed, reshuffle = training_order(train_seed or 0, epoch)
    return make_pipeline(
        chosen, split_labels, data_cfg.batch_size,
        shuffle_seed_value=None if train_seed is None else order_seed,
        shuffle_buffer=data_cfg.shuffle_buffer, deterministic=deterministic, reshuffle=reshuffle,
    )


def mfeat_fixture(root: str) -> dict:
    """The registry's fixture: mfeat ships inside the package, so nothing is written."""
    return {"name": "mfeat", "teacher": "pix", "student": "fou"}


@register_dataset("mfeat", modalities=tuple(VIEW_COLUMNS), fixture=mfeat_fixture)
def build_mfeat(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Builds the mfeat pipelines for the ``data.teacher``/``data.student`` views.

    Args:
        data_cfg: the ``data`` config section (``on_bad_sample`` does not apply:
            a bad mfeat file is always an error).
        seed: experiment seed; orders the training shuffle only.
        deterministic: set ``tf.data.Options.deterministic`` on every pipeline.

    Returns:
        A `DatasetBundle`; with the default fractions 1200/400/400 samples.

    Raises:
        ConfigError: for an unknown view or a missing ``data.root`` file.
        ValueError: for a malformed or misaligned file.

    Example:
        >>> bundle = build_mfeat(DataConfig(teacher="pix", student="fou"), seed=0)
        >>> bundle.input_shapes
        {'teacher': (16, 15, 1), 'student': (76,)}
    """
    check_view("data.teacher", data_cfg.teacher)
    check_view("data.student", data_cfg.student)
    modalities = {"teacher": data_cfg.teacher, "student": data_cfg.student}

    features, labels = read_aligned_views(list(dict.fromkeys(modalities.values())), data_cfg.root)
    split_indices = dict(
        zip(
            ("train", "val", "test"),
            stratified_split(
                labels, data_cfg.val_fraction, data_cfg.test_fraction, data_cfg.split_seed
            ),
        )
    )
    model_inputs = {
        key: preprocess_view(view, features[view], split_indices["train"])
        for key, view in modalities.items()
    }

    pipelines, ordered, indexed = {}, {}, {}
    for split, indices in split_indices.items():
        split_inputs = {key: values[indices] for key, values in model_inputs.items()}
        split_labels = labels[indices]

        indexed[split] = functools.partial(
            indexed_pipeline, split_inputs, split_labels, data_cfg, seed if split == "train" else None, deterministic
        )
        pipelines[split] = make_pipeline(
            split_inputs,
            split_labels,
            data_cfg.batch_size,
            shuffle_seed_value=shuffle_seed(seed) if split == "train" else None,
            shuffle_buffer=data_cfg.shuffle_buffer,
            deterministic=deterministic,
        )
        ordered[split] = with_determinism(
            tf.data.Dataset.from_tensor_slices((split_inputs, split_labels)), deterministic
        )

    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=NUM_CLASSES,
        class_names=list(CLASS_NAMES),
        input_shapes={key: tuple(values.shape[1:]) for key, values in model_inputs.items()},
        modalities=modalities,
        sizes={split: int(len(indices)) for split, indices in split_indices.items()},
        ordered=ordered,
        indexed=indexed,
        deterministic_train_views={key: True for key in modalities},  # no augmentation
        precomputed_views=tuple(modalities),  # preprocessed into arrays once, above
        fingerprint=array_fingerprint([*model_inputs.values(), labels]),
    )
