"""analysis.tensorboard: true makes training log the figures as TensorBoard images."""

from __future__ import annotations

import glob
import os

import numpy as np
import tensorflow as tf

from fdkd_tf.analysis.tensorboard import log_images
from fdkd_tf.analysis import figures
from fdkd_tf.config import load_config
from fdkd_tf.training import experiment

FAST = [
    "teacher.epochs=1",
    "train.epochs=1",
    "train.verbose=0",
    "model.teacher.filters=[4]",
    "model.teacher.feature_dim=8",
    "model.student.hidden_units=[32]",
    "model.student.feature_dim=8",
    "analysis.tensorboard=true",
    "analysis.tsne_samples=40",
]


def _summaries(log_dir):
    """{tag: [(kind, value)]} read back from every event file under log_dir."""
    found = {}
    for path in glob.glob(os.path.join(log_dir, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            for value in event.summary.value:
                tensor = tf.make_ndarray(value.tensor) if value.HasField("tensor") else None
                found.setdefault(value.tag, []).append((value.metadata.plugin_data.plugin_name, tensor))
    return found


def test_training_logs_the_analysis_images(repo_root, tmp_path):
    config = load_config(os.path.join(repo_root, "configs", "mfeat.yaml"), FAST)
    experiment.run_experiment(config, str(tmp_path))
    summaries = _summaries(str(tmp_path / "logs" / "analysis"))
    for tag in ("analysis/feature_means", "analysis/similarity_per_bin", "analysis/tsne"):
        plugin, tensor = summaries[tag][0]
        assert plugin == "images", tag
        width, height = int(tensor[0]), int(tensor[1])  # image summaries hold [width, height, png...]
        png = tensor[2]
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and (width, height) == tuple(
            tf.io.decode_png(png).shape[1::-1]
        ), tag
    assert summaries["analysis/tsne"][0][1][:2].tolist() == [b"400", b"420"]
    for band in ("raw", "low", "high"):
        plugin, tensor = summaries[f"analysis/similarity_{band}"][0]
        assert plugin == "scalars" and -1.0 <= float(tensor) <= 1.0


def test_log_images_round_trips_the_png(tmp_path):
    figure = figures.tsne_figure([{"title": "x", "points": {"a": np.zeros((3, 2)), "b": np.ones((3, 2))}}])
    png = figures.figure_png(figure)
    log_images(str(tmp_path), {"analysis/tsne": png}, step=7, scalars={"analysis/value": 0.25})
    summaries = _summaries(str(tmp_path))
    stored = summaries["analysis/tsne"][0][1]
    np.testing.assert_array_equal(tf.io.decode_png(stored[2], channels=4).numpy(), tf.io.decode_png(png, channels=4).numpy())
    assert float(summaries["analysis/value"][0][1]) == 0.25
