"""Band similarity (paper Table 1) on features whose band content is known."""

from __future__ import annotations

import numpy as np
import pytest

from fdkd_tf.analysis.similarity import band_similarity, cosine_similarity, per_bin_similarity, similarity_table
from fdkd_tf.layers import band_bins

DIM = 64


def _band_signal(rng, batch, mask):
    """Random real signals whose spectrum lives only on the bins of ``mask``."""
    spectrum = (rng.normal(size=(batch, mask.size)) + 1j * rng.normal(size=(batch, mask.size))) * mask
    return np.fft.irfft(spectrum, n=DIM, axis=1)


def _numpy_reference(a, b, cutoff, dc_in_low):
    """Independent computation: numpy FFT masks and numpy cosine."""
    low_mask, high_mask = band_bins(DIM, cutoff, dc_in_low)

    def bands(x):
        spectrum = np.fft.rfft(x, axis=1)
        return np.fft.irfft(spectrum * low_mask, n=DIM, axis=1), np.fft.irfft(spectrum * high_mask, n=DIM, axis=1)

    def cosine(x, y):
        return np.mean(np.sum(x * y, 1) / (np.linalg.norm(x, axis=1) * np.linalg.norm(y, axis=1)))

    (low_a, high_a), (low_b, high_b) = bands(a), bands(b)
    return {"raw": cosine(a, b), "low": cosine(low_a, low_b), "high": cosine(high_a, high_b)}


def test_shared_low_band_only_gives_low_near_one_and_high_near_zero():
    rng = np.random.default_rng(0)
    low_mask, high_mask = band_bins(DIM)
    shared_low = _band_signal(rng, 2000, low_mask)  # the only thing the two modalities share
    modality_a = shared_low + _band_signal(rng, 2000, high_mask)
    modality_b = shared_low + _band_signal(rng, 2000, high_mask)
    result = band_similarity(modality_a, modality_b)
    similarity = {band: value["mean"] for band, value in result["similarity"].items()}
    assert similarity["low"] == pytest.approx(1.0, abs=1e-4)
    assert abs(similarity["high"]) < 0.02
    assert 0.3 < similarity["raw"] < 0.7  # half the energy is shared
    assert result["claim"] == {"low_above_raw": True, "raw_above_high": True, "high_near_zero": True, "holds": True}
    assert result["decoupling"]["low_bins"] == [1, 16] and result["decoupling"]["high_bins"] == [17, 32]


@pytest.mark.parametrize("cutoff,dc_in_low", [(0.5, False), (0.25, True)])
def test_values_match_an_independent_numpy_computation(cutoff, dc_in_low):
    rng = np.random.default_rng(1)
    a = rng.normal(size=(50, DIM)) + 0.3
    b = 0.5 * a + rng.normal(size=(50, DIM))
    result = band_similarity(a, b, cutoff=cutoff, dc_in_low=dc_in_low)
    expected = _numpy_reference(a, b, cutoff, dc_in_low)
    for band, value in expected.items():
        assert result["similarity"][band]["mean"] == pytest.approx(value, abs=1e-5), band


def test_per_bin_similarity_is_the_cosine_of_single_bin_components():
    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(30, DIM)), rng.normal(size=(30, DIM))
    per_bin = per_bin_similarity(a, b)
    assert per_bin.shape == (DIM // 2 + 1,)
    for k in (0, 1, 7, DIM // 2):
        mask = np.zeros(DIM // 2 + 1)
        mask[k] = 1.0
        single_a = np.fft.irfft(np.fft.rfft(a, axis=1) * mask, n=DIM, axis=1)
        single_b = np.fft.irfft(np.fft.rfft(b, axis=1) * mask, n=DIM, axis=1)
        expected = np.mean(np.sum(single_a * single_b, 1) / (np.linalg.norm(single_a, axis=1) * np.linalg.norm(single_b, axis=1)))
        assert per_bin[k] == pytest.approx(expected, abs=1e-9), k
    assert np.allclose(per_bin_similarity(a, -a), -1.0)


def test_cosine_similarity_edge_cases_and_shape_errors():
    assert cosine_similarity([[0.0, 0.0]], [[1.0, 2.0]]).tolist() == [0.0]
    assert cosine_similarity([[1.0, 2.0]], [[2.0, 4.0]])[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same shape"):
        band_similarity(np.zeros((4, 16)), np.zeros((4, 32)))


def test_table_names_the_bands_and_the_verdict():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(10, 16))
    text = similarity_table(band_similarity(x, -x), "toy a vs b")
    assert "| Feature | toy a vs b |" in text and "| Low frequency | -1.00" in text
    assert "does not hold" in text and "bins 1-4" in text and "DC in neither band" in text
