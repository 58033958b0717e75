"""Joint t-SNE (paper Figure 4): deterministic with a seed, one embedding per input."""

from __future__ import annotations

import numpy as np
import pytest

from fdkd_tf.analysis.tsne import joint_tsne, subsample_indices


def _inputs():
    rng = np.random.default_rng(0)
    return rng.normal(size=(40, 6)), rng.normal(loc=4.0, size=(40, 6))


def test_same_seed_gives_the_same_embedding():
    first = joint_tsne(_inputs(), seed=3, perplexity=10)
    second = joint_tsne(_inputs(), seed=3, perplexity=10)
    assert [part.shape for part in first] == [(40, 2), (40, 2)]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # Two well separated clouds stay apart in the embedding.
    gap = np.linalg.norm(first[0].mean(0) - first[1].mean(0))
    spread = max(first[0].std(0).max(), first[1].std(0).max())
    assert gap > 2 * spread


def test_sizes_must_match_and_small_inputs_lower_the_perplexity():
    a, b = _inputs()
    with pytest.raises(ValueError, match="one size"):
        joint_tsne([a, b[:, :4]])
    tiny = joint_tsne([a[:3], b[:3]], seed=0, perplexity=30)  # perplexity lowered to 5/3
    assert [part.shape for part in tiny] == [(3, 2), (3, 2)]


def test_subsample_indices_are_sorted_unique_and_seeded():
    indices = subsample_indices(100, 10, seed=1)
    assert len(indices) == 10 and np.all(np.diff(indices) > 0)
    np.testing.assert_array_equal(indices, subsample_indices(100, 10, seed=1))
    np.testing.assert_array_equal(subsample_indices(5, 10, seed=1), np.arange(5))
