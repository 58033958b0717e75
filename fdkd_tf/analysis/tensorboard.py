"""Log the analysis figures of a finished run to TensorBoard as images.

With ``analysis.tensorboard: true`` a run ends by writing, under
``logs/analysis``, the per-bin similarity curve with the raw / low / high means as
scalars (Table 1), the per-dimension feature means (Figure 1) and the joint t-SNE
of the teacher's and the student's test features (Figure 4), so the evidence for
the method sits next to the loss curves it explains.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import tensorflow as tf

from fdkd_tf.analysis import figures
from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.analysis.feature_means import feature_means_report
from fdkd_tf.analysis.features import extract_features
from fdkd_tf.analysis.reports import (
    feature_means_figure_for,
    pair_features,
    similarity_figure_for,
    similarity_result,
    tsne_panel,
)

#: TensorBoard run (sub-directory of ``logs/``) the figures go to
LOG_STAGE = "analysis"


def log_images(log_dir: str, images: dict, step: int = 0, scalars: dict | None = None) -> None:
    """Writes PNG images (and optional scalars) as TensorBoard summaries.

    Args:
        log_dir: the TensorBoard log directory (created).
        images: ``{tag: PNG bytes}``.
        step: summary step.
        scalars: optional ``{tag: float}``.
    """
    writer = tf.summary.create_file_writer(log_dir)
    with writer.as_default():
        for tag, png in images.items():
            image = tf.io.decode_png(png, channels=4)[tf.newaxis]  # (1, height, width, 4) uint8
            tf.summary.image(tag, image, step=step)
        for tag, value in (scalars or {}).items():
            tf.summary.scalar(tag, float(value), step=step)
    writer.flush()
    writer.close()


def run_figures(config, bundle, pair_models: dict, tsne_models: dict, seed: int = 0,
                progress: Callable[[str], None] = print) -> tuple[dict, dict]:
    """The three figures of a run, as PNG bytes, plus the similarity scalars.

    Args:
        config: the run's `ExperimentConfig` (band split, ``analysis`` section).
        bundle: its `DatasetBundle`.
        pair_models: ``{name: (model, input key)}``, one per modality, for the
            similarity and the feature means.
        tsne_models: ``{name: (model, input key)}``, the teacher and the student.
        seed: t-SNE seed.
        progress: called with one line per step, or a note on a skipped figure.

    Returns:
        ``({tag: PNG bytes}, {tag: float})``.
    """
    settings = config.analysis
    images, scalars = {}, {}
    features, _ = extract_features(pair_models, bundle.test)
    report = feature_means_report(features)
    images["analysis/feature_means"] = figures.figure_png(feature_means_figure_for(report, config.data.name))
    try:
        names, matched, _ = pair_features(pair_models, bundle, settings.projection)
        result = similarity_result(names, matched, config, settings.projection)
        images["analysis/similarity_per_bin"] = figures.figure_png(similarity_figure_for(result))
        for band, values in result["similarity"].items():
            scalars[f"analysis/similarity_{band}"] = values["mean"]
        names, matched, _ = pair_features(tsne_models, bundle, settings.projection)
        panel = tsne_panel(names, matched, seed, settings.tsne_perplexity, settings.tsne_samples)
        panel["title"] = f"{config.distill.method}: {names[0]} and {names[1]}"
        images["analysis/tsne"] = figures.figure_png(figures.tsne_figure([panel]))
    except AnalysisError as error:
        progress(f"[analysis] similarity and t-SNE skipped: {error} (set analysis.projection: lstsq)")
    return images, scalars


def log_run_analysis(config, bundle, log_dir: str, teachers: dict, students: list, progress=print) -> dict:
    """The end-of-training hook: logs a run's analysis figures to TensorBoard.

    The similarity and feature-means pair is the two unimodal teachers when the
    run has both (``direction: both``, as the reference analysis compares), else
    the teacher and the distilled student; the t-SNE shows the teacher and the
    (first) distilled student.

    Args:
        config: the run's config.
        bundle: its `DatasetBundle`.
        log_dir: ``logs/analysis`` of the run directory.
        teachers: ``{input key: frozen teacher model}``.
        students: ``[(modality, input key, student model)]``, forward direction first.
        progress: called with one line per step.

    Returns:
        The scalars that were logged (``{tag: value}``).
    """
    modalities = bundle.modalities
    teacher_entry = {f"teacher_{modalities['teacher']}": (teachers["teacher"], "teacher")}
    modality, student_key, student = students[0]
    student_entry = {f"student_{modality}": (student, student_key)}
    if "student" in teachers:
        pair_models = {**teacher_entry, f"teacher_{modalities['student']}": (teachers["student"], "student")}
    else:
        pair_models = {**teacher_entry, **student_entry}
    progress(f"[analysis] logging figures of {', '.join(pair_models)} to {log_dir}")
    try:
        images, scalars = run_figures(config, bundle, pair_models, {**teacher_entry, **student_entry},
                                      seed=config.experiment.seed, progress=progress)
    except AnalysisError as error:  # the run itself is finished and saved; only its figures are lost
        progress(f"[analysis] no figures logged: {error}")
        return {}
    log_images(log_dir, images, step=config.train.epochs, scalars=scalars)
    return {tag: float(np.round(value, 6)) for tag, value in scalars.items()}
