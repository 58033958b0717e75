"""Cross-modal cosine similarity of paired features, raw and per frequency band.

The paper's Table 1 rests on one measurement: take the pooled features of the
same test samples seen through two modalities, split each into its low and high
frequency bands along the channel axis (Eq. 1-3), and average the per-sample
cosine similarity of the two modalities' raw, low and high features. Low-band
features should agree across modalities more than the raw ones, and high-band
features hardly at all. The bands here come from `fdkd_tf.layers.decouple`, the
same split that training uses, so the numbers describe what the losses see.
"""

from __future__ import annotations

import numpy as np

from fdkd_tf.layers import band_bins, decouple

#: norms below this count as zero: a zero vector has similarity 0 with anything
NORM_EPSILON = 1e-8
#: |mean high-band similarity| below this counts as "near 0" (paper: -0.02, -0.01)
NEAR_ZERO = 0.1
BANDS = ("raw", "low", "high")


def _paired(features_a, features_b, dtype, what: str):
    """Both arrays as ``dtype``; refuses anything but two equal ``(batch, dim)`` shapes."""
    features_a = np.asarray(features_a, dtype)
    features_b = np.asarray(features_b, dtype)
    if features_a.shape != features_b.shape or features_a.ndim != 2:
        raise ValueError(
            f"{what} needs two (batch, dim) feature arrays of the same shape, got "
            f"{features_a.shape} and {features_b.shape}"
        )
    return features_a, features_b

def cosine_similarity(features_a, features_b) -> np.ndarray:
    """Per-sample cosine similarity of two feature batches of equal shape.

    Args:
        features_a: ``(batch, dim)`` array.
        features_b: ``(batch, dim)`` array, row ``i`` paired with row ``i`` of a.

    Returns:
        float64 ``(batch,)``; a row whose norm is (nearly) zero scores 0.

    Example:
        >>> cosine_similarity([[1.0, 0.0]], [[1.0, 1.0]]).round(4).tolist()
        [0.7071]
    """
    features_a, features_b = _paired(features_a, features_b, np.float64, "cosine similarity")
    dot = np.sum(features_a * features_b, axis=1)
    norms = np.linalg.norm(features_a, axis=1) * np.linalg.norm(features_b, axis=1)
    return np.where(norms > NORM_EPSILON**2, dot / np.maximum(norms, NORM_EPSILON**2), 0.0)


def per_bin_similarity(features_a, features_b) -> np.ndarray:
    """Mean cosine similarity of the two modalities' single-frequency components.

    Keeping only rfft bin ``k`` of a feature and transforming back gives a
    sinusoid ``|X_k| cos(2 pi k n / D + phase)``; the cosine similarity of two
    such sinusoids is ``Re(A_k conj(B_k)) / (|A_k| |B_k|)``, the cosine of their
    phase difference (a sign product for the real DC and Nyquist bins). This
    resolves Table 1's two bands into one value per bin.

    Args:
        features_a: ``(batch, dim)`` features of the first modality.
        features_b: ``(batch, dim)`` paired features of the second modality.

    Returns:
        float64 ``(dim // 2 + 1,)``: the similarity per bin, averaged over samples
        (bins where a sample has no energy count 0 for that sample).
    """
    features_a, features_b = _paired(features_a, features_b, np.float64, "per-bin similarity")
    spectrum_a = np.fft.rfft(features_a, axis=1)  # (batch, dim // 2 + 1)
    spectrum_b = np.fft.rfft(features_b, axis=1)
    magnitudes = np.abs(spectrum_a) * np.abs(spectrum_b)
    cross = np.real(spectrum_a * np.conj(spectrum_b))
    per_sample = np.where(magnitudes > NORM_EPSILON**2, cross / np.maximum(magnitudes, NORM_EPSILON**2), 0.0)
    return per_sample.mean(axis=0)


def _summary(values: np.ndarray) -> dict:
    return {"mean": float(np.mean(values)), "std": float(np.std(values))}


def band_ranges(dim: int, cutoff: float, dc_in_low: bool) -> dict:
    """First and last rfft bin of each band, as `band_bins` splits them."""
    low_mask, high_mask = band_bins(dim, cutoff, dc_in_low)
    low, high = np.flatnonzero(low_mask), np.flatnonzero(high_mask)
    return {"low": [int(low[0]), int(low[-1])], "high": [int(high[0]), int(high[-1])]}


def band_similarity(features_a, features_b, cutoff: float = 0.5, dc_in_low: bool = False) -> dict:
    """Table 1 for one pair of modalities: raw, low-band and high-band similarity.

    Args:
        features_a: ``(batch, dim)`` features of the first modality.
        features_b: ``(batch, dim)`` paired features of the second modality.
        cutoff: fraction of the non-DC bins in the low band
            (``distill.fdcmkd.cutoff``).
        dc_in_low: put the DC bin (the feature mean) into the low band
            (``distill.fdcmkd.dc_in_low``; the reference analysis notebook does).

    Returns:
        ``{"samples", "feature_dim", "decoupling": {cutoff, dc_in_low, low_bins,
        high_bins}, "similarity": {band: {"mean", "std"}}, "per_bin": [...],
        "claim": {...}}`` where ``claim`` says whether low > raw > high and
        whether |high| < `NEAR_ZERO`.

    Raises:
        ValueError: when the two arrays differ in shape.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> x = rng.normal(size=(8, 16))
        >>> band_similarity(x, x)["similarity"]["low"]["mean"]
        1.0
    """
    features_a, features_b = _paired(features_a, features_b, np.float32, "band similarity")
    low_a, high_a = (np.asarray(band) for band in decouple(features_a, cutoff, dc_in_low))
    low_b, high_b = (np.asarray(band) for band in decouple(features_b, cutoff, dc_in_low))
    similarity = {
        "raw": _summary(cosine_similarity(features_a, features_b)),
        "low": _summary(cosine_similarity(low_a, low_b)),
        "high": _summary(cosine_similarity(high_a, high_b)),
    }
    raw, low, high = (similarity[band]["mean"] for band in BANDS)
    dim = features_a.shape[1]
    return {
        "samples": int(features_a.shape[0]),
        "feature_dim": int(dim),
        "decoupling": {"cutoff": float(cutoff), "dc_in_low": bool(dc_in_low), **{
            f"{band}_bins": bins for band, bins in band_ranges(dim, cutoff, dc_in_low).items()
        }},
        "similarity": similarity,
        "per_bin": [float(value) for value in per_bin_similarity(features_a, features_b)],
        "claim": {
            "low_above_raw": bool(low > raw),
            "raw_above_high": bool(raw > high),
            "high_near_zero": bool(abs(high) < NEAR_ZERO),
            "holds": bool(low > raw > high and abs(high) < NEAR_ZERO),
        },
    }


def similarity_table(result: dict, column: str) -> str:
    """The paper's Table 1 layout as markdown, one column for one modality pair.

    Args:
        result: the output of `band_similarity`.
        column: column title, e.g. ``"mfeat pix vs fou"``.

    Returns:
        Markdown text: the table, then a line naming the bands and the verdict.
    """
    names = {"raw": "Original features", "low": "Low frequency", "high": "High frequency"}
    lines = [f"| Feature | {column} |", "|---|---|"]
    for band in BANDS:
        value = result["similarity"][band]
        lines.append(f"| {names[band]} | {value['mean']:.2f} (± {value['std']:.2f}) |")
    decoupling = result["decoupling"]
    claim = result["claim"]
    lines += [
        "",
        f"Mean ± std over {result['samples']} paired test samples of the per-sample cosine "
        f"similarity; {result['feature_dim']}-d features, low band = rfft bins "
        f"{decoupling['low_bins'][0]}-{decoupling['low_bins'][1]}, high band = bins "
        f"{decoupling['high_bins'][0]}-{decoupling['high_bins'][1]}"
        f"{' (DC in the low band)' if decoupling['dc_in_low'] else ' (DC in neither band)'}.",
        f"Paper's claim (low > raw > high, |high| < {NEAR_ZERO}): "
        f"{'holds' if claim['holds'] else 'does not hold'} "
        f"(low > raw: {claim['low_above_raw']}, raw > high: {claim['raw_above_high']}, "
        f"high near 0: {claim['high_near_zero']}).",
    ]
    return "\n".join(lines) + "\n"
