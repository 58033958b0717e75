"""The CrisisMMD ``tf.data`` pipeline and its registered builder (``data.name: crisismmd``).

Tweet texts are tokenized once, up front (they are small); images are decoded
lazily by a parallel `tf.data` map with prefetch, so no image is held in memory
beyond the batches in flight.
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
from fdkd_tf.data.crisismmd.fixture import write_crisismmd_fixture
from fdkd_tf.data.crisismmd.layout import MODALITIES, SPLIT_NAMES, TASK_CLASSES, check_modality, check_task, load_split
from fdkd_tf.data.determinism import training_order, with_determinism
from fdkd_tf.data.errors import DatasetWarning
from fdkd_tf.data.images import decode_rgb, eval_transform, train_transform
from fdkd_tf.data.registry import register_dataset
from fdkd_tf.data.sample_store import files_fingerprint
from fdkd_tf.data.text import encode_texts, load_tokenizer
from fdkd_tf.models.bert import RANDOM_INIT_VOCABULARY_SIZE


def _augmentation_seeds(seed: int, rerandomize: bool = True) -> tf.data.Dataset:
    """Endless ``(2, 2)`` int64 stateless seeds (crop, flip), new ones every pass when ``rerandomize``."""
    values = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=rerandomize)
    return values.batch(4, drop_remainder=True).map(lambda batch: tf.reshape(batch, (2, 2)))



def make_pipeline(
    root: str,
    samples: list,
    token_ids: np.ndarray,
    labels: np.ndarray,
    modalities: dict,
    image_size: int,
    training: bool,
    seed: int,
    shuffle_buffer: int = 2048,
    batch_size: Optional[int] = None,
    deterministic: bool = False,
    keys: tuple = ("teacher", "student"),
    with_index: bool = False,
    epoch: Optional[int] = None,
) -> tf.data.Dataset:
    """The paired ``({"teacher", "student"}, label)`` pipeline of one split.

    Args:
        root: the prepared dataset directory.
        samples: the split's samples (their image paths).
        token_ids: int32 ``(n, max_length)`` token ids of the texts.
        labels: int32 ``(n,)`` class indices.
        modalities: ``{"teacher": "text"|"image", "student": ...}``.
        image_size: output height and width of the images.
        training: shuffle (reshuffled each epoch) and augment; else fixed order,
            resize only.
        seed: seeds the shuffle and the augmentation.
        shuffle_buffer: shuffle buffer size (capped at the split size).
        batch_size: batch size, or None for unbatched elements.
        deterministic: keep the element order fixed despite the parallel map.
        keys: the modality keys to load (an image not asked for is not decoded).
        with_index: add ``"index"``, each sample's int64 position in ``samples``.
        epoch: training only: that epoch's order and augmentation, fixed by
            ``(seed, epoch)`` (`fdkd_tf.data.determinism.training_order`); None
            reshuffles at every pass.

    Returns:
        The `tf.data.Dataset`, prefetched.
    """
    paths = [os.path.join(root, sample.image) for sample in samples]
    positions = np.arange(len(samples), dtype=np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((paths, token_ids, labels, positions))
    if training:
        order_seed, reshuffle = training_order(seed, epoch)
        dataset = dataset.shuffle(
            min(shuffle_buffer, max(len(samples), 1)), seed=order_seed, reshuffle_each_iteration=reshuffle
        )
        dataset = tf.data.Dataset.zip((dataset, _augmentation_seeds(order_seed, reshuffle)))

    def load(path, tokens, label, position, augmentation_seed=None):
        inputs = {}
        for key in keys:
            if modalities[key] == "text":
                inputs[key] = tokens
                continue
            image = decode_rgb(tf.io.read_file(path))  # (h, w, 3) uint8
            if training:
                image = train_transform(image, image_size, augmentation_seed)
            else:
                image = eval_transform(image, image_size)
            inputs[key] = image
        if with_index:
            inputs["index"] = position
        return inputs, label

    if training:
        dataset = dataset.map(lambda element, seeds: load(*element, seeds), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic)


@register_dataset("crisismmd", modalities=MODALITIES, fixture=write_crisismmd_fixture)
def build_crisismmd(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Builds the CrisisMMD text/image pipelines for ``data.task`` (official splits).

    Args:
        data_cfg: the ``data`` section: ``root`` (prepared directory), ``task``
            (informative | humanitarian), ``teacher``/``student`` (text | image),
            ``vocabulary`` (BERT vocab file or local preset directory),
            ``max_length``, ``image_size``, ``batch_size``, ``shuffle_buffer``,
            ``on_bad_sample``.
        seed: experiment seed; orders the training shuffle and augmentation.
        deterministic: fixed element order (``tf.data.Options.deterministic``).

    Returns:
        A `DatasetBundle` whose inputs are int32 token ids for ``text`` and
        float32 images for ``image``.

    Raises:
        ConfigError: for a bad key, a missing root or split file, or a bad
            vocabulary.
        ValueError: naming the file and line of a malformed sample
            (``on_bad_sample: error``).

    Example:
        >>> cfg = DataConfig(name="crisismmd", root="data/crisismmd", task="informative",
        ...                  teacher="image", student="text", vocabulary="vocab.txt")
        >>> build_crisismmd(cfg, seed=0).class_names
        ['informative', 'not_informative']
    """
    task = check_task(data_cfg.task)
    check_modality("data.teacher", data_cfg.teacher)
    check_modality("data.student", data_cfg.student)
    modalities = {"teacher": data_cfg.teacher, "student": data_cfg.student}
    root = data_cfg.root
    if root is None or not os.path.isdir(root):
        raise ConfigError(
            f"config key 'data.root' must be the prepared CrisisMMD directory, got {root!r} "
            "(not a directory); create it with tools/prepare_crisismmd.py --src <release> --out <dir>"
        )
    tokenizer = load_tokenizer(data_cfg.vocabulary)
    if tokenizer.vocabulary_size() > RANDOM_INIT_VOCABULARY_SIZE:
        warnings.warn(
            f"data.vocabulary {data_cfg.vocabulary} has {tokenizer.vocabulary_size()} tokens, more than "
            f"the {RANDOM_INIT_VOCABULARY_SIZE} token embeddings of a randomly initialised BERT; the text "
            "model needs a preset (model.<side>.preset) built for this vocabulary",
            DatasetWarning,
            stacklevel=2,
        )
    class_index = {name: index for index, name in enumerate(TASK_CLASSES[task])}

    pipelines, ordered, indexed, sizes, image_files = {}, {}, {}, {}, []
    for split in SPLIT_NAMES:
        samples = load_split(root, task, split, data_cfg.on_bad_sample)
        token_ids = encode_texts(tokenizer, [sample.text for sample in samples], data_cfg.max_length)
        labels = np.array([class_index[sample.label] for sample in samples], dtype=np.int32)
        common = dict(
            root=root,
            samples=samples,
            token_ids=token_ids,
            labels=labels,
            modalities=modalities,
            image_size=data_cfg.image_size,
            seed=int(seed),
        )
        training = split == "train"
        pipelines[split] = make_pipeline(
            **common,
            training=training,
            shuffle_buffer=data_cfg.shuffle_buffer,
            batch_size=data_cfg.batch_size,
            deterministic=deterministic,
        )
        ordered[split] = make_pipeline(**common, training=False, deterministic=True)
        indexed[split] = functools.partial(
            _indexed_pipeline, common, training, data_cfg.shuffle_buffer, data_cfg.batch_size, deterministic
        )
        sizes[split] = len(samples)
        image_files += [os.path.join(root, sample.image) for sample in samples]

    shapes = {"text": (data_cfg.max_length,), "image": (data_cfg.image_size, data_cfg.image_size, 3)}
    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=len(class_index),
        class_names=list(TASK_CLASSES[task]),
        input_shapes={key: shapes[view] for key, view in modalities.items()},
        modalities=modalities,
        sizes=sizes,
        ordered=ordered,
        indexed=indexed,
        # Token ids are computed above, once; training images are randomly cropped and flipped.
        deterministic_train_views={key: view == "text" for key, view in modalities.items()},
        precomputed_views=tuple(key for key, view in modalities.items() if view == "text"),
        fingerprint=files_fingerprint(image_files + [str(data_cfg.vocabulary)]),
    )


def _indexed_pipeline(common, training, shuffle_buffer, batch_size, deterministic, keys, epoch=None):
    """`DatasetBundle.indexed` of one split: the split's pipeline for ``keys`` with indices."""
    return make_pipeline(
        **common, training=training, shuffle_buffer=shuffle_buffer, batch_size=batch_size,
        deterministic=deterministic, keys=tuple(keys), with_index=True, epoch=epoch if training else None,
    )
