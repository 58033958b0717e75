"""Matplotlib figures of the three analyses, rendered off-screen to PNG.

Figures are built on `matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``, so nothing depends on a display or on global plotting state, and the
same PNG bytes go to a file (`save_figure`) or to TensorBoard
(`fdkd_tf.analysis.tensorboard`). Pixel sizes are ``figsize * dpi`` exactly (no
tight bounding box), so callers know what they get.
"""

from __future__ import annotations

import io

import numpy as np

from fdkd_tf.files import atomic_path

DPI = 100
SIMILARITY_FIGSIZE = (7.0, 4.0)  # 700 x 400 px
FEATURE_MEANS_FIGSIZE = (8.0, 4.0)  # 800 x 400 px
TSNE_PANEL_SIZE = (4.0, 4.2)  # per run: 400 x 420 px
MODALITY_COLORS = ("tab:blue", "tab:orange", "tab:green", "tab:red")


def _figure(figsize):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=figsize, dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def similarity_curve_figure(result: dict, title: str):
    """Similarity per frequency bin, with the low and high bands shaded (Table 1 in detail).

    Args:
        result: the output of `fdkd_tf.analysis.similarity.band_similarity`.
        title: the figure title (e.g. ``"mfeat: teacher_pix vs teacher_fou"``).

    Returns:
        A `matplotlib.figure.Figure` of `SIMILARITY_FIGSIZE` at `DPI`.
    """
    figure = _figure(SIMILARITY_FIGSIZE)
    axes = figure.add_subplot(1, 1, 1)
    per_bin = np.asarray(result["per_bin"])
    bins = np.arange(per_bin.size)
    decoupling = result["decoupling"]
    similarity = result["similarity"]
    for band, color in (("low", "tab:green"), ("high", "tab:red")):
        first, last = decoupling[f"{band}_bins"]
        mean = similarity[band]["mean"]
        axes.axvspan(first - 0.5, last + 0.5, color=color, alpha=0.08)
        axes.hlines(mean, first - 0.5, last + 0.5, colors=color, linestyles="--",
                    label=f"{band} band ({first}-{last}): {mean:.2f}")
    axes.axhline(similarity["raw"]["mean"], color="gray", linestyle=":",
                 label=f"raw: {similarity['raw']['mean']:.2f}")
    axes.axhline(0.0, color="black", linewidth=0.5)
    axes.plot(bins, per_bin, marker="o", markersize=2.5, linewidth=1.0, color="tab:blue", label="per bin")
    axes.set_xlim(-0.5, per_bin.size - 0.5)
    axes.set_ylim(min(-0.2, float(per_bin.min()) - 0.05), 1.05)
    axes.set_xlabel(f"rfft bin of the {result['feature_dim']}-d feature")
    axes.set_ylabel("mean cosine similarity")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    return figure


def feature_means_figure(report: dict, title: str):
    """Per-dimension feature means of each model, one line each (the paper's Figure 1).

    Args:
        report: the output of `fdkd_tf.analysis.feature_means.feature_means_report`.
        title: the figure title.

    Returns:
        A `matplotlib.figure.Figure` of `FEATURE_MEANS_FIGSIZE` at `DPI`.
    """
    figure = _figure(FEATURE_MEANS_FIGSIZE)
    axes = figure.add_subplot(1, 1, 1)
    for index, (name, entry) in enumerate(report.items()):
        means = np.asarray(entry["means"])
        axes.plot(np.arange(means.size), means, linewidth=1.0, color=MODALITY_COLORS[index % len(MODALITY_COLORS)],
                  label=f"{name} (mean |mean| {entry['mean_abs_mean']:.3g}, std {entry['mean_std']:.3g})")
    axes.axhline(0.0, color="black", linewidth=0.5)
    axes.set_xlabel("feature dimension")
    axes.set_ylabel("mean over test samples")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="upper right")
    figure.tight_layout()
    return figure


def tsne_figure(panels: list[dict], title: str = ""):
    """One t-SNE panel per run, points coloured by model (the paper's Figure 4).

    Args:
        panels: ``[{"title": str, "points": {model name: (n, 2) array}}]``; the
            first model of each panel gets the first colour, and so on.
        title: optional figure title.

    Returns:
        A `matplotlib.figure.Figure` ``len(panels)`` panels wide, each
        `TSNE_PANEL_SIZE`, at `DPI`.
    """
    if not panels:
        raise ValueError("tsne_figure needs at least one panel")
    width, height = TSNE_PANEL_SIZE
    figure = _figure((width * len(panels), height))
    for index, panel in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), index + 1)
        for color, (name, points) in zip(MODALITY_COLORS, panel["points"].items()):
            points = np.asarray(points)
            axes.scatter(points[:, 0], points[:, 1], s=3, alpha=0.6, color=color, label=name, linewidths=0)
        axes.set_title(panel["title"], fontsize=9)
        axes.set_xticks([])
        axes.set_yticks([])
        axes.legend(fontsize=7, loc="upper right", markerscale=3)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    return figure


def figure_png(figure) -> bytes:
    """Renders a figure to PNG bytes (``figsize * dpi`` pixels)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def save_figure(figure, path: str) -> str:
    """Writes a figure as a PNG, atomically; returns ``path``."""
    data = figure_png(figure)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(data)
    return path
