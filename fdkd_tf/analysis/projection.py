"""Bring two models' features to one size before comparing them.

Cosine similarity and a joint t-SNE need features of one size. Models of the
same size are compared as they are. Otherwise the caller must say how to map
the second model's features onto the first's size: ``lstsq`` fits a linear map
(with bias) by least squares on the training split, the analogue of the learned
projection that ``distill.projection`` adds in training; a ``.npy`` file gives a
fixed ``(dim_b, dim_a)`` matrix. A fitted map is chosen to make the features agree,
so similarities after ``lstsq`` are upper estimates; say so when reporting them.
"""

from __future__ import annotations

import os

import numpy as np

from fdkd_tf.analysis.errors import AnalysisError

PROJECTIONS = ("none", "lstsq")


def fit_lstsq_projection(source_features, target_features) -> np.ndarray:
    """Least-squares linear map (with bias) from one feature space to another.

    Args:
        source_features: ``(samples, dim_b)`` features to map.
        target_features: ``(samples, dim_a)`` paired features to map onto.

    Returns:
        float64 ``(dim_b + 1, dim_a)``; the last row is the bias.
    """
    source = np.asarray(source_features, np.float64)
    target = np.asarray(target_features, np.float64)
    design = np.concatenate([source, np.ones((source.shape[0], 1))], axis=1)  # (samples, dim_b + 1)
    matrix, *_ = np.linalg.lstsq(design, target, rcond=None)
    return matrix


def apply_projection(features, matrix) -> np.ndarray:
    """``features @ matrix`` (or with a bias row when ``matrix`` has ``dim + 1`` rows)."""
    features = np.asarray(features, np.float64)
    matrix = np.asarray(matrix, np.float64)
    if matrix.ndim != 2 or matrix.shape[0] not in (features.shape[1], features.shape[1] + 1):
        raise AnalysisError(
            f"projection matrix of shape {matrix.shape} cannot map {features.shape[1]}-d features; "
            f"it must be ({features.shape[1]}, target dim) or ({features.shape[1] + 1}, target dim) with a bias row"
        )
    if matrix.shape[0] == features.shape[1] + 1:
        return features @ matrix[:-1] + matrix[-1]
    return features @ matrix


def load_projection_matrix(path: str) -> np.ndarray:
    """Reads a ``.npy`` projection matrix, naming the file on failure."""
    if not os.path.isfile(path):
        raise AnalysisError(f"--projection: file not found: {path}; give 'none', 'lstsq' or a .npy matrix")
    try:
        return np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise AnalysisError(f"--projection: {path} is not a .npy matrix: {error}") from None


def match_sizes(names: tuple[str, str], features: tuple, projection: str = "none", train_features: tuple | None = None) -> tuple:
    """Returns both feature arrays at the first one's size, or raises.

    Args:
        names: display names of the two models (for the error).
        features: ``(features_a, features_b)`` to compare, ``(samples, dim)`` each.
        projection: ``none``, ``lstsq`` or the path of a ``.npy`` matrix.
        train_features: ``(train_a, train_b)`` paired training features, needed by
            ``lstsq``.

    Returns:
        ``(features_a, projected features_b)`` as float32.

    Raises:
        AnalysisError: when the sizes differ and ``projection`` is ``none``.
    """
    features_a, features_b = (np.asarray(f, np.float32) for f in features)
    dim_a, dim_b = features_a.shape[1], features_b.shape[1]
    if projection == "none":
        if dim_a != dim_b:
            raise AnalysisError(
                f"mismatched feature sizes: {names[0]} gives {dim_a}-d features and {names[1]} "
                f"{dim_b}-d; similarity and t-SNE compare features of one size: use models with "
                "equal feature_dim, or pass --projection lstsq (a least-squares map fitted on the "
                "train split) or --projection FILE.npy"
            )
        return features_a, features_b
    if projection == "lstsq":
        if train_features is None:
            raise AnalysisError("--projection lstsq needs the training features of both models")
        matrix = fit_lstsq_projection(train_features[1], train_features[0])
    else:
        matrix = load_projection_matrix(projection)
    projected = apply_projection(features_b, matrix)
    if projected.shape[1] != dim_a:
        raise AnalysisError(
            f"--projection {projection}: maps {names[1]} to {projected.shape[1]}-d, but {names[0]} is {dim_a}-d"
        )
    return features_a, projected.astype(np.float32)
