"""Per-dimension feature means of each modality (the paper's Figure 1).

The paper motivates its scale-consistency step (Eq. 6-7) by plotting, for each
feature dimension, the mean over the test set of each modality's pooled feature:
the two modalities sit at visibly different scales, so plain MSE would pull the
student's features toward the teacher's mean. These numbers are what the figure
draws, plus a few summaries that say how far apart the two scales are.
"""

from __future__ import annotations

import numpy as np


def feature_means(features) -> np.ndarray:
    """Mean of each feature dimension over the samples.

    Args:
        features: ``(samples, dim)`` array.

    Returns:
        float64 ``(dim,)``.

    Example:
        >>> feature_means([[1.0, 2.0], [3.0, 6.0]]).tolist()
        [2.0, 4.0]
    """
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or features.shape[0] == 0:
        raise ValueError(f"feature means need a non-empty (samples, dim) array, got shape {features.shape}")
    return features.mean(axis=0)


def scale_summary(features) -> dict:
    """How large one modality's features are: the numbers Figure 1 compares.

    Args:
        features: ``(samples, dim)`` array.

    Returns:
        ``{"dim", "mean", "mean_abs_mean", "mean_l2_norm", "mean_std"}``: the
        mean of all values, the mean over dimensions of ``|per-dimension mean|``,
        the mean per-sample L2 norm and the mean per-dimension standard deviation.
    """
    features = np.asarray(features, np.float64)
    means = feature_means(features)
    return {
        "dim": int(features.shape[1]),
        "mean": float(features.mean()),
        "mean_abs_mean": float(np.abs(means).mean()),
        "mean_l2_norm": float(np.linalg.norm(features, axis=1).mean()),
        "mean_std": float(features.std(axis=0).mean()),
    }


def feature_means_report(features_by_name: dict) -> dict:
    """Per-dimension means and scale summaries of several models' features.

    Feature sizes may differ: each model is described on its own dimensions.

    Args:
        features_by_name: ``{display name: (samples, dim) array}``, e.g.
            ``{"teacher_pix": ..., "teacher_fou": ...}``.

    Returns:
        ``{name: {"means": [...], **scale_summary}}`` in the given order.
    """
    return {
        name: {"means": [float(v) for v in feature_means(features)], **scale_summary(features)}
        for name, features in features_by_name.items()
    }
