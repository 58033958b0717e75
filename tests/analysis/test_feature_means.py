"""Per-dimension feature means and scale summaries (paper Figure 1)."""

from __future__ import annotations

import numpy as np
import pytest

from fdkd_tf.analysis.feature_means import feature_means, feature_means_report


def test_means_and_summaries_match_numpy():
    rng = np.random.default_rng(0)
    loud = rng.normal(loc=3.0, size=(200, 12))
    quiet = rng.normal(loc=0.0, scale=0.1, size=(200, 8))
    report = feature_means_report({"loud": loud, "quiet": quiet})
    assert list(report) == ["loud", "quiet"]
    np.testing.assert_allclose(report["loud"]["means"], loud.mean(axis=0))
    assert report["quiet"]["dim"] == 8 and len(report["quiet"]["means"]) == 8
    assert report["loud"]["mean_abs_mean"] == pytest.approx(np.abs(loud.mean(0)).mean())
    assert report["loud"]["mean_l2_norm"] == pytest.approx(np.linalg.norm(loud, axis=1).mean())
    assert report["quiet"]["mean_std"] == pytest.approx(quiet.std(0).mean())
    assert report["loud"]["mean_abs_mean"] > 20 * report["quiet"]["mean_abs_mean"]


def test_empty_input_is_refused():
    with pytest.raises(ValueError, match="non-empty"):
        feature_means(np.zeros((0, 4)))
