"""`DatasetBundle`: the three input pipelines of a dataset and what describes them.

Builders return one bundle so that models, distillers and exporters read shapes,
class names and calibration samples from one place instead of re-deriving them
from the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import tensorflow as tf

SPLITS = ("train", "val", "test")
MODALITY_KEYS = ("teacher", "student")


@dataclass
class DatasetBundle:
    """Batched train/val/test pipelines of a two-modality dataset.

    Every split yields ``({"teacher": x_teacher, "student": x_student}, label)``
    with float32 inputs and int32 labels; the two inputs of one element are the
    same sample seen through two modalities.

    Attributes:
        train: batched, shuffled (reshuffled each epoch) training pipeline.
        val: batched validation pipeline in a fixed order.
        test: batched test pipeline in a fixed order.
        num_classes: number of classes.
        class_names: one name per class index.
        input_shapes: ``{"teacher": shape, "student": shape}`` without the batch dim.
        modalities: ``{"teacher": view name, "student": view name}``.
        sizes: ``{"train": n, "val": n, "test": n}`` samples per split.
        ordered: optional unbatched, unshuffled pipelines per split (same element
            structure); `representative_inputs` reads them so its answer does not
            change between calls. Splits missing here fall back to the batched one.
            Element ``i`` of ``ordered[split]`` is sample ``i`` of the split, the
            index that ``indexed`` pipelines carry and that caches are keyed by.
        indexed: optional ``{split: make(keys, epoch=None)}``; ``make`` returns the
            split's batched pipeline (same shuffle, same augmentation) whose inputs hold
            only the modality ``keys`` plus ``"index"``, each sample's int64 position in
            ``ordered[split]``. For training, ``epoch`` gives that epoch's order and
            augmentation, a function of (seed, epoch) alone
            (`fdkd_tf.data.determinism.training_order`), which is what makes a resumed
            run see the batches of the killed one. The caches (`fdkd_tf.data.caching`,
            `fdkd_tf.training.teacher_cache`) need it; a bundle without it is never
            cached, and resuming it restarts the training shuffle sequence.
        deterministic_train_views: ``{key: bool}``, whether the training pipeline's
            view of ``key`` is the same every epoch (no random augmentation); only
            such a view may be cached for training.
        precomputed_views: keys whose view is already an in-memory array (nothing
            is recomputed per step, so the input cache leaves them alone).
        fingerprint: what the data on disk is (file names, sizes, times); part of
            the key of every disk cache, so edited data is never read from a cache.
        input_cache: what `fdkd_tf.data.caching.apply_input_cache` did (mode, keys
            per split, reason), for logs and ``metrics.json``.

    Example:
        >>> bundle = build_datasets(DataConfig(), seed=0)
        >>> bundle.representative_inputs("train", "student", 8).shape
        (8, 76)
    """

    train: tf.data.Dataset
    val: tf.data.Dataset
    test: tf.data.Dataset
    num_classes: int
    class_names: list[str]
    input_shapes: dict
    modalities: dict
    sizes: dict
    ordered: dict = field(default_factory=dict)
    indexed: dict[str, Callable] = field(default_factory=dict)
    deterministic_train_views: dict = field(default_factory=dict)
    precomputed_views: tuple = ()
    fingerprint: str = ""
    input_cache: dict = field(default_factory=dict)

    def split(self, name: str) -> tf.data.Dataset:
        """The batched pipeline of split ``name`` ('train', 'val' or 'test')."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return getattr(self, name)

    def fresh(self, name: str, epoch: int | None = None) -> tf.data.Dataset:
        """A new batched pipeline of split ``name``: epoch ``epoch``'s order, or
        (``epoch=None``) one whose reshuffling starts over.

        Training stages ask for each epoch's pipeline, so the batches of an epoch do
        not depend on what ran before in the process (the other stage, the teacher
        cache, a resume). Without ``indexed`` the split's pipeline itself is returned.
        """
        if name not in self.indexed:
            return self.split(name)
        return self.indexed[name](MODALITY_KEYS, epoch=epoch).map(
            lambda inputs, labels: ({key: inputs[key] for key in MODALITY_KEYS}, labels)
        )

    def representative_inputs(self, split: str, key: str, count: int) -> np.ndarray:
        """The first ``count`` inputs of one modality from one split.

        Used to calibrate int8 export, which needs real inputs of the exported
        modality, without the labels or the other modality.

        Args:
            split: 'train', 'val' or 'test'.
            key: 'teacher' or 'student'.
            count: how many samples; fewer come back if the split is smaller.

        Returns:
            float32 array of shape ``(min(count, size), *input_shapes[key])``.

        Raises:
            ValueError: for an unknown split or key, or a count below 1.
        """
        if key not in MODALITY_KEYS:
            raise ValueError(
                f"unknown modality key {key!r}; use one of {', '.join(MODALITY_KEYS)}"
            )
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ValueError(
                f"representative_inputs: count must be a positive integer, got {count!r}"
            )
        batched = self.split(split)  # also rejects an unknown split name
        dataset = self.ordered.get(split)
        if dataset is None:
            dataset = batched.unbatch()
        inputs = dataset.map(lambda features, label: features[key]).take(int(count))
        batches = list(inputs.batch(int(count)).as_numpy_iterator())
        if not batches:
            return np.zeros((0, *self.input_shapes[key]), dtype=np.float32)
        return batches[0].astype(np.float32, copy=False)
