"""The NYU-Depth V2 ``tf.data`` pipeline and its registered builder (``data.name: nyudv2``).

Training views are randomly scaled (x1 to x1.5), cropped to ``data.image_size``
squared and flipped, identically for RGB, depth and labels; evaluation uses the
whole 480 x 640 image. RGB is ImageNet-normalised, depth is divided by
`DEPTH_RANGE_M` (10 m, the sensor range of the release).
"""

from __future__ import annotations

import functools
import os
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.determinism import training_order, with_determinism
from fdkd_tf.data.images import normalize_imagenet
from fdkd_tf.data.nyudv2.fixture import write_nyudv2_fixture
from fdkd_tf.data.nyudv2.layout import (
    DEPTH_PNG_SCALE,
    DEPTH_RANGE_M,
    MODALITIES,
    NUM_CLASSES,
    OFFICIAL_SPLIT_SIZES,
    SIZE_MULTIPLE,
    SPLIT_FILES,
    STORED_IGNORE,
    carve_validation,
    read_class_names,
    read_split_file,
    sample_id,
    sample_path,
    scan_samples,
)
from fdkd_tf.data.registry import register_dataset
from fdkd_tf.data.sample_store import files_fingerprint

TRAIN_SCALE_RANGE = (1.0, 1.5)  # random up-scaling before the training crop


def _check_config(data_cfg: DataConfig) -> str:
    for key, value in (("data.teacher", data_cfg.teacher), ("data.student", data_cfg.student)):
        if value not in MODALITIES:
            raise ConfigError(f"config key '{key}' must be one of {', '.join(MODALITIES)} for data.name 'nyudv2', got {value!r}")
    if 0 <= data_cfg.ignore_label < NUM_CLASSES:
        raise ConfigError(
            f"config key 'data.ignore_label' must not be a class index 0..{NUM_CLASSES - 1}, got {data_cfg.ignore_label}"
        )
    if data_cfg.image_size % SIZE_MULTIPLE:
        raise ConfigError(
            f"config key 'data.image_size' must be a multiple of {SIZE_MULTIPLE} for NYU-Depth V2 "
            f"(the segmentation encoder's output stride), got {data_cfg.image_size}"
        )
    root = data_cfg.root
    if root is None or not os.path.isdir(root):
        raise ConfigError(
            f"config key 'data.root' must be the prepared NYU-Depth V2 directory, got {root!r}"
            f"{'' if root is None else ' (not a directory)'}; create it with tools/prepare_nyudv2.py"
        )
    return root


def _decode(root: str):
    """Returns ``load(index) -> (rgb uint8 (H, W, 3), depth uint16 (H, W, 1), label uint8 (H, W, 1))``."""
    root = root.rstrip("/\\")

    def load(index):
        stem = tf.strings.as_string(index, width=4, fill="0")
        read = lambda kind: tf.io.read_file(tf.strings.join([root, kind, stem + ".png"], separator=os.sep))  # noqa: E731
        rgb = tf.io.decode_png(read("rgb"), channels=3)
        depth = tf.io.decode_png(read("depth"), channels=1, dtype=tf.uint16)
        label = tf.io.decode_png(read("label"), channels=1)
        return rgb, depth, label

    return load


def to_model_inputs(rgb, depth, label, ignore_label: int):
    """Stored arrays -> ``({"rgb": float32, "depth": float32}, int32 labels (H, W))``.

    RGB is ImageNet-normalised, depth becomes metres / `DEPTH_RANGE_M`, and the
    stored unlabelled value 255 becomes ``ignore_label``.
    """
    labels = tf.cast(label[..., 0], tf.int32)
    labels = tf.where(labels == STORED_IGNORE, tf.constant(ignore_label, tf.int32), labels)
    depth = tf.cast(depth, tf.float32) / (DEPTH_PNG_SCALE * DEPTH_RANGE_M)
    return {"rgb": normalize_imagenet(rgb), "depth": depth}, labels


def random_scale_crop_flip(rgb, depth, label, size: int, seed):
    """The training view: one random scale in `TRAIN_SCALE_RANGE`, one ``size``
    square crop and one horizontal flip (p = 1/2), shared by RGB, depth and labels.

    RGB and depth are resized bilinearly, labels with nearest neighbour.

    Args:
        rgb, depth, label: ``(H, W, C)`` stored arrays, ``size <= min(H, W)``.
        size: crop side.
        seed: ``(3, 2)`` int stateless seeds (scale, crop, flip).

    Returns:
        ``(rgb float32, depth float32, label uint8)`` of ``(size, size, C)``.
    """
    shape = tf.cast(tf.shape(rgb)[:2], tf.float32)
    scale = tf.random.stateless_uniform([], seed[0], *TRAIN_SCALE_RANGE)
    scaled = tf.cast(tf.round(shape * scale), tf.int32)
    rgb = tf.image.resize(rgb, scaled, method="bilinear")
    depth = tf.image.resize(tf.cast(depth, tf.float32), scaled, method="bilinear")
    label = tf.image.resize(label, scaled, method="nearest")
    limit = scaled - size + 1  # (2,) number of valid offsets
    offset = tf.random.stateless_uniform([2], seed[1], 0, tf.int32.max, dtype=tf.int32) % limit
    crop = lambda image: image[offset[0] : offset[0] + size, offset[1] : offset[1] + size]  # noqa: E731
    flip = tf.random.stateless_uniform([], seed[2]) < 0.5
    views = []
    for image, channels in ((rgb, 3), (depth, 1), (label, 1)):
        image = crop(image)
        image = tf.where(flip, tf.reverse(image, [1]), image)
        image.set_shape([size, size, channels])
        views.append(image)
    return tuple(views)



def make_pipeline(
    root: str,
    indices: list[int],
    data_cfg: DataConfig,
    modalities: dict,
    train_seed: Optional[int] = None,
    deterministic: bool = False,
    batch: bool = True,
    full_size: Optional[tuple[int, int]] = None,
    keys: tuple = ("teacher", "student"),
    with_index: bool = False,
    epoch: Optional[int] = None,
) -> tf.data.Dataset:
    """Sample indices -> ``({"teacher", "student"}, labels)`` pipeline.

    With ``train_seed`` the order is shuffled each epoch and every sample gets a
    fresh random scale / crop / flip (stateless, from per-epoch seeds), so a
    deterministic run repeats exactly; without it samples keep their order and
    full size. Decoding runs in parallel; batches are prefetched.

    Args:
        root: prepared directory.
        indices: 1-based sample indices.
        data_cfg: ``data`` config (batch size, image size, ignore label, buffer).
        modalities: ``{"teacher": "rgb" | "depth", "student": ...}``.
        train_seed: the training seed, or None for an evaluation pipeline.
        deterministic: ``tf.data.Options.deterministic``.
        batch: batch and prefetch (False for the unbatched `DatasetBundle.ordered`).
        full_size: ``(height, width)`` shared by all samples; evaluation elements get
            this static shape, which Keras' bilinear ``UpSampling2D`` (DeepLabV3+)
            needs inside a `tf.function`.
        keys: the modality keys to return (both are decoded: their crops are paired).
        with_index: add ``"index"``, each sample's int64 position in ``indices``.
        epoch: with ``train_seed``: that epoch's order and augmentation, fixed by
            ``(train_seed, epoch)`` (`fdkd_tf.data.determinism.training_order`);
            None reshuffles at every pass.

    Returns:
        The `tf.data.Dataset`.
    """
    load = _decode(root)
    size = data_cfg.image_size
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.asarray(indices, np.int64), np.arange(len(indices), dtype=np.int64))
    )
    if train_seed is not None:
        order_seed, reshuffle = training_order(train_seed, epoch)
        dataset = dataset.shuffle(max(len(indices), 1), seed=order_seed, reshuffle_each_iteration=reshuffle)
        seeds = tf.data.Dataset.random(seed=order_seed, rerandomize_each_iteration=reshuffle).batch(6)
        dataset = tf.data.Dataset.zip((dataset, seeds))

        def element(index, seed):
            rgb, depth, label = load(index)
            rgb, depth, label = random_scale_crop_flip(rgb, depth, label, size, tf.reshape(seed, (3, 2)))
            return rgb, depth, label

        def pair(row, seed):
            return to_pair(row, element(row[0], seed))
    else:

        def element(index):
            rgb, depth, label = load(index)
            if full_size is not None:
                for image in (rgb, depth, label):
                    image.set_shape([*full_size, image.shape[-1]])
            return rgb, depth, label

        def pair(index, position):
            return to_pair((index, position), element(index))

    def to_pair(row, decoded):
        inputs, labels = to_model_inputs(*decoded, data_cfg.ignore_label)
        chosen = {key: inputs[modalities[key]] for key in keys}
        if with_index:
            chosen["index"] = row[1]
        return chosen, labels

    dataset = dataset.map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    if batch:
        dataset = dataset.batch(data_cfg.batch_size).prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic)


@register_dataset("nyudv2", modalities=MODALITIES, fixture=write_nyudv2_fixture)
def build_nyudv2(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Builds the NYU-Depth V2 segmentation pipelines (prepared layout, see the module doc).

    Checks the layout before any training: split files parse, every listed
    sample's three PNGs exist with the right format and size, labels lie in
    0..39 or 255; split sizes are compared with the official 795 / 654 and a
    difference is warned about.

    Args:
        data_cfg: the ``data`` section (``root``, ``teacher`` / ``student``,
            ``image_size``, ``batch_size``, ``val_fraction``, ``split_seed``,
            ``ignore_label``, ``on_bad_sample``).
        seed: experiment seed; orders the training shuffle and augmentation.
        deterministic: reproducible element order.

    Returns:
        A `DatasetBundle` whose labels are ``(batch, H, W)`` int32 maps.

    Raises:
        ConfigError: for a bad ``data`` key, a missing root, split or classes file.
        ValueError: for a bad split line or sample with ``on_bad_sample: error``,
            naming the file (and line).

    Example:
        >>> cfg = DataConfig(name="nyudv2", root="data/nyudv2", teacher="rgb", student="depth")
        >>> bundle = build_nyudv2(cfg, seed=0)
        >>> bundle.input_shapes
        {'teacher': (None, None, 3), 'student': (None, None, 1)}
    """
    root = _check_config(data_cfg)
    class_names = read_class_names(root)
    bad: list[str] = []
    official = {
        split: read_split_file(os.path.join(root, name), data_cfg.on_bad_sample, bad) for split, name in SPLIT_FILES.items()
    }
    both = set(official["train"]) & set(official["test"])
    if both:
        raise ValueError(f"sample {sample_id(min(both))} is listed in both {SPLIT_FILES['train']} and {SPLIT_FILES['test']} under {root}")
    sizes_found = {split: len(indices) for split, indices in official.items()}
    if sizes_found != OFFICIAL_SPLIT_SIZES:
        warnings.warn(
            "NYU-Depth V2 split sizes differ from the official release: "
            + ", ".join(f"{SPLIT_FILES[s]} lists {sizes_found[s]} (official {OFFICIAL_SPLIT_SIZES[s]})" for s in SPLIT_FILES)
            + f" under {root}; numbers are not comparable with the paper's",
            UserWarning,
            stacklevel=2,
        )
    kept, image_size = {}, None
    for split, indices in official.items():
        kept[split], size = scan_samples(root, indices, data_cfg.on_bad_sample, bad)
        if image_size is not None and size is not None and size != image_size:
            raise ValueError(f"{split} images are {size[0]}x{size[1]}, train images {image_size[0]}x{image_size[1]} (under {root}); all samples must share one size")
        image_size = image_size or size
    if bad:
        warnings.warn(
            f"skipped {len(bad)} bad NYU-Depth V2 entries (data.on_bad_sample: skip): " + "; ".join(bad),
            UserWarning,
            stacklevel=2,
        )
    if not kept["test"]:
        raise ValueError(f"no usable test sample under {root}")
    if image_size is not None:
        if min(image_size) < data_cfg.image_size:
            raise ConfigError(
                f"config key 'data.image_size' ({data_cfg.image_size}) exceeds the images' {image_size[0]}x{image_size[1]}"
            )
        if image_size[0] % SIZE_MULTIPLE or image_size[1] % SIZE_MULTIPLE:
            raise ValueError(
                f"NYU-Depth V2 images under {root} are {image_size[0]}x{image_size[1]}; evaluation runs on whole images, "
                f"whose sides must be multiples of {SIZE_MULTIPLE}"
            )
    train, val = carve_validation(kept["train"], data_cfg.val_fraction, data_cfg.split_seed)
    split_indices = {"train": train, "val": val, "test": kept["test"]}
    modalities = {"teacher": data_cfg.teacher, "student": data_cfg.student}
    train_seed = int(seed)
    pipelines = {
        split: make_pipeline(
            root, indices, data_cfg, modalities, train_seed if split == "train" else None, deterministic, full_size=image_size
        )
        for split, indices in split_indices.items()
    }
    # Always in file order: representative_inputs and the tests read samples by position.
    ordered = {
        split: make_pipeline(root, indices, data_cfg, modalities, None, True, batch=False, full_size=image_size)
        for split, indices in split_indices.items()
    }
    indexed = {
        split: functools.partial(
            _indexed_pipeline, root, indices, data_cfg, modalities,
            train_seed if split == "train" else None, deterministic, image_size,
        )
        for split, indices in split_indices.items()
    }
    channels = {"rgb": 3, "depth": 1}
    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=NUM_CLASSES,
        class_names=class_names,
        input_shapes={key: (None, None, channels[modality]) for key, modality in modalities.items()},
        modalities=modalities,
        sizes={split: len(indices) for split, indices in split_indices.items()},
        ordered=ordered,
        indexed=indexed,
        deterministic_train_views={key: False for key in modalities},  # paired random scale, crop, flip
        fingerprint=files_fingerprint(
            sample_path(root, kind, index)
            for indices in split_indices.values() for index in indices for kind in ("rgb", "depth", "label")
        ),
    )


def _indexed_pipeline(root, indices, data_cfg, modalities, train_seed, deterministic, full_size, keys, epoch=None):
    """`DatasetBundle.indexed` of one split: the split's pipeline for ``keys`` with indices."""
    return make_pipeline(
        root, indices, data_cfg, modalities, train_seed, deterministic,
        full_size=full_size, keys=tuple(keys), with_index=True, epoch=epoch,
    )
