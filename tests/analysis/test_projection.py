"""Feature sizes: equal sizes pass, different sizes need a projection."""

from __future__ import annotations

import numpy as np
import pytest

from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.analysis.projection import apply_projection, fit_lstsq_projection, match_sizes


def test_different_sizes_are_refused_without_a_projection():
    with pytest.raises(AnalysisError, match="mismatched feature sizes: teacher_pix gives 8-d features and student_fou 4-d"):
        match_sizes(("teacher_pix", "student_fou"), (np.zeros((3, 8)), np.zeros((3, 4))))


def test_lstsq_recovers_an_exact_linear_map_and_a_file_matrix_is_applied(tmp_path):
    rng = np.random.default_rng(0)
    source = rng.normal(size=(100, 4))
    matrix, bias = rng.normal(size=(4, 6)), rng.normal(size=6)
    target = source @ matrix + bias
    fitted = fit_lstsq_projection(source, target)
    np.testing.assert_allclose(fitted[:-1], matrix, atol=1e-8)
    np.testing.assert_allclose(fitted[-1], bias, atol=1e-8)
    test_a, test_b = target[:10], source[:10]
    a, b = match_sizes(("a", "b"), (test_a, test_b), "lstsq", (target, source))
    np.testing.assert_allclose(b, test_a, atol=1e-4)
    path = tmp_path / "map.npy"
    np.save(path, matrix)
    _, projected = match_sizes(("a", "b"), (test_a, test_b), str(path))
    np.testing.assert_allclose(projected, test_b @ matrix, atol=1e-4)
    with pytest.raises(AnalysisError, match="cannot map 5-d features"):
        apply_projection(np.zeros((2, 5)), matrix)
    with pytest.raises(AnalysisError, match="file not found"):
        match_sizes(("a", "b"), (test_a, test_b), str(tmp_path / "missing.npy"))
