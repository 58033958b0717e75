"""`DatasetBundle`: the three input pipelines of a dataset and what describes them.

Builders return one bundle so that models, distillers and exporters read shapes,
class names and calibration samples from one place instead of re-deriving them
from the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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

    def split(self, name: str) -> tf.data.Dataset:
        """The batched pipeline of split ``name`` ('train', 'val' or 'test')."""
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; use one of {', '.join(SPLITS)}")
        return getattr(self, name)

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
