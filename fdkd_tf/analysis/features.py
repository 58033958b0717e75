"""Pooled features of several models on the same samples, in one pass.

Every analysis compares features *of the same samples* seen by different models
(one per modality). Reading all models in one pass over a paired pipeline keeps
row ``i`` of every array the same sample, even on a shuffled pipeline.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from fdkd_tf.analysis.errors import AnalysisError


def extract_features(models: dict, dataset: tf.data.Dataset) -> tuple[dict, np.ndarray]:
    """Features of each model on a paired dataset, plus the labels.

    Args:
        models: ``{name: (keras model with a "features" output, input key)}``,
            input key ``"teacher"`` or ``"student"``.
        dataset: batched ``({"teacher": x_t, "student": x_s}, label)`` pipeline.

    Returns:
        ``({name: float32 (samples, dim)}, labels)``; dense feature maps
        ``(batch, H, W, dim)`` are average-pooled to ``(batch, dim)``.

    Raises:
        AnalysisError: when a model's features are not finite (a diverged model).

    Example:
        >>> features, labels = extract_features({"t": (teacher, "teacher")}, bundle.test)
    """

    chunks = {name: [] for name in models}
    labels = []
    for inputs, batch_labels in dataset:
        for name, (model, input_key) in models.items():
            # Eager calls: one pass over a test split, no tf.function retracing per call.
            features = np.asarray(model(inputs[input_key], training=False)["features"], np.float32)
            if features.ndim > 2:  # dense (batch, ..., dim) maps, e.g. segmentation: pool to (batch, dim)
                features = features.mean(axis=tuple(range(1, features.ndim - 1)))
            chunks[name].append(features)  # (batch, dim)
        labels.append(np.asarray(batch_labels, np.int32))
    if not labels:
        raise ValueError("extract_features: the dataset is empty")
    features = {name: np.concatenate(parts) for name, parts in chunks.items()}
    for name, values in features.items():
        bad = int(np.sum(~np.all(np.isfinite(values), axis=1)))
        if bad:
            raise AnalysisError(
                f"features of {name} are NaN or infinite on {bad} of {values.shape[0]} samples: the "
                "model diverged in training; analyse a checkpoint whose features are finite"
            )
    return features, np.concatenate(labels)  # labels as the dataset gives them
