"""Fixed, stratified train/val/test splits of a labelled dataset.

The split is a function of the labels, the two fractions and a split seed only,
never of the experiment seed: every run of every method on a dataset sees the same
test samples, so their numbers can be compared side by side.
"""

from __future__ import annotations

import numpy as np


def stratified_split(
    labels, val_fraction: float, test_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Splits sample indices into train/val/test with the class balance kept.

    Each class is shuffled on its own (one `numpy.random.default_rng(seed)` walks
    the classes in sorted order) and cut into ``round(n * val_fraction)`` val,
    ``round(n * test_fraction)`` test and the rest train samples. Per-class cuts
    keep every class in every split, which a global shuffle does not guarantee.

    Args:
        labels: 1-D array-like of integer class labels, one per sample.
        val_fraction: share of each class for validation, in (0, 1).
        test_fraction: share of each class for test, in (0, 1); the two fractions
            together must stay below 1.
        seed: the split seed (``data.split_seed``); the same seed gives the same
            split.

    Returns:
        ``(train_idx, val_idx, test_idx)``: sorted int64 index arrays, disjoint and
        together covering ``range(len(labels))``.

    Raises:
        ValueError: if the labels are not 1-D, a fraction is out of range, or a
            class is too small to leave at least one training sample.

    Example:
        >>> labels = np.repeat(np.arange(10), 200)
        >>> train, val, test = stratified_split(labels, 0.2, 0.2, seed=0)
        >>> len(train), len(val), len(test)
        (1200, 400, 400)
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"stratified_split needs 1-D labels, got shape {labels.shape}")
    for name, fraction in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 < fraction < 1.0:
            raise ValueError(f"stratified_split: {name} must be in (0, 1), got {fraction!r}")
    if val_fraction + test_fraction >= 1.0:
        raise ValueError(
            "stratified_split: val_fraction + test_fraction must be below 1, got "
            f"{val_fraction!r} + {test_fraction!r}"
        )

    rng = np.random.default_rng(seed)
    train_parts, val_parts, test_parts = [], [], []
    for class_label in np.unique(labels):
        class_indices = rng.permutation(np.flatnonzero(labels == class_label))
        num_val = int(round(len(class_indices) * val_fraction))
        num_test = int(round(len(class_indices) * test_fraction))
        if num_val + num_test >= len(class_indices):
            raise ValueError(
                f"stratified_split: class {class_label.item()!r} has {len(class_indices)} samples, "
                f"too few for val_fraction={val_fraction} and test_fraction={test_fraction} "
                "to leave a training sample; lower the fractions"
            )
        val_parts.append(class_indices[:num_val])
        test_parts.append(class_indices[num_val : num_val + num_test])
        train_parts.append(class_indices[num_val + num_test :])

    def _sorted(parts):
        return np.sort(np.concatenate(parts)).astype(np.int64)

    return _sorted(train_parts), _sorted(val_parts), _sorted(test_parts)
