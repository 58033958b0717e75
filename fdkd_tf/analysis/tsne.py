"""A joint t-SNE of two models' features (the paper's Figure 4).

The paper embeds the teacher's and the student's test features together and
colours them by modality: without distillation the two clouds are apart, plain
feature distillation (FitNet MSE) makes them overlap, and FD-CMKD keeps them apart
while each stays separable by class. One embedding is fitted per run on the
concatenation of the two feature sets, so distances between modalities mean
something inside a panel (not across panels).
"""

from __future__ import annotations

import numpy as np

#: t-SNE needs perplexity < number of points; it is lowered to (points - 1) / 3
MIN_POINTS = 4


def subsample_indices(count: int, max_samples: int | None, seed: int) -> np.ndarray:
    """Sorted indices of at most ``max_samples`` of ``count`` rows, drawn with ``seed``.

    The same indices are used for both models, so pairs stay paired.
    """
    if max_samples is None or count <= max_samples:
        return np.arange(count)
    return np.sort(np.random.default_rng(seed).choice(count, size=max_samples, replace=False))


def joint_tsne(features_list, seed: int = 0, perplexity: float = 30.0, threads: int = 1) -> list[np.ndarray]:
    """Embeds several feature sets of one size in one 2-D t-SNE.

    Args:
        features_list: arrays ``(n_i, dim)`` with the same ``dim`` (e.g. the
            teacher's and the student's features of the same samples).
        seed: `sklearn.manifold.TSNE` ``random_state``; the same input and seed
            give the same embedding.
        perplexity: t-SNE perplexity, lowered to ``(points - 1) / 3`` for small
            inputs.
        threads: OpenMP / BLAS threads for the fit. One by default: a few
            thousand points take seconds on one thread, while OpenMP threads
            competing with TensorFlow's on a busy CPU made it 20x slower.

    Returns:
        One ``(n_i, 2)`` float64 array per input, in order.

    Raises:
        ValueError: when the sizes differ or there are fewer than `MIN_POINTS`
            points in all.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> a, b = joint_tsne([rng.normal(size=(20, 8)), rng.normal(size=(20, 8))], seed=0)
        >>> a.shape, b.shape
        ((20, 2), (20, 2))
    """
    from sklearn.manifold import TSNE  # optional heavy import, only when used
    from threadpoolctl import threadpool_limits  # installed with scikit-learn

    arrays = [np.asarray(features, np.float64) for features in features_list]
    dims = sorted({array.shape[1] if array.ndim == 2 else -1 for array in arrays})
    if len(dims) != 1 or dims[0] < 1:
        raise ValueError(
            "t-SNE embeds features of one size together, got shapes "
            f"{[array.shape for array in arrays]}; give models with equal feature_dim or a projection"
        )
    stacked = np.concatenate(arrays, axis=0)  # (sum n_i, dim)
    if stacked.shape[0] < MIN_POINTS:
        raise ValueError(f"t-SNE needs at least {MIN_POINTS} points, got {stacked.shape[0]}")
    perplexity = float(min(perplexity, (stacked.shape[0] - 1) / 3.0))
    with threadpool_limits(limits=threads):
        embedding = TSNE(
            n_components=2,
            perplexity=perplexity,
            init="pca",
            learning_rate="auto",
            random_state=seed,
        ).fit_transform(stacked)  # (sum n_i, 2)
    bounds = np.cumsum([array.shape[0] for array in arrays])[:-1]
    return [np.asarray(part, np.float64) for part in np.split(embedding, bounds)]
