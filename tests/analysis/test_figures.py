"""Figures are written as non-empty PNGs of the documented pixel size."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fdkd_tf.analysis import figures
from fdkd_tf.analysis.feature_means import feature_means_report
from fdkd_tf.analysis.similarity import band_similarity


def _size(path):
    with Image.open(path) as image:
        return image.size  # (width, height)


def test_each_figure_is_a_png_of_the_expected_size(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(20, 32)), rng.normal(size=(20, 32))
    similarity = band_similarity(a, b)
    paths = {
        "similarity": figures.save_figure(figures.similarity_curve_figure(similarity, "a vs b"), str(tmp_path / "s.png")),
        "means": figures.save_figure(
            figures.feature_means_figure(feature_means_report({"a": a, "b": b[:, :16]}), "means"), str(tmp_path / "m.png")
        ),
        "tsne": figures.save_figure(
            figures.tsne_figure([{"title": f"run {i}", "points": {"t": a[:, :2], "s": b[:, :2]}} for i in range(3)]),
            str(tmp_path / "t.png"),
        ),
    }
    expected = {"similarity": (700, 400), "means": (800, 400), "tsne": (1200, 420)}
    for name, path in paths.items():
        data = open(path, "rb").read()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, name
        assert _size(path) == expected[name], name
        with Image.open(path) as image:  # not a blank canvas
            assert len(np.unique(np.asarray(image.convert("L")))) > 10, name
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp-")]  # atomic writes leave nothing behind


def test_tsne_figure_needs_a_panel():
    with pytest.raises(ValueError, match="at least one panel"):
        figures.tsne_figure([])
