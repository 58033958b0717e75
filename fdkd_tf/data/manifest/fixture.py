"""A miniature manifest over generated files: wav tones, PNG images and ``.npy`` vectors."""

from __future__ import annotations

import os

import numpy as np

from fdkd_tf.files import write_text

FIXTURE_CSV = "pairs.csv"
FIXTURE_COLUMNS = ("image", "audio", "features")
FIXTURE_RATE = 8_000  # not the view's 16 kHz, so loading resamples


def write_manifest_fixture(root: str, num_classes: int = 3, rows_per_split: int = 4, with_val: bool = True) -> dict:
    """Writes ``root/pairs.csv`` and its files; every view carries the label.

    Each row is a 0.5 s tone whose pitch follows the class (wav at 8 kHz), a 24 x 24
    PNG whose brightness follows it, and an 8-vector whose mean follows it.

    Returns:
        The ``data`` keys that select it (image teacher, audio student).
    """
    import tensorflow as tf

    from fdkd_tf.data.audio import write_wav

    names = [f"class_{k}" for k in range(num_classes)]
    for sub in FIXTURE_COLUMNS:
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    rng = np.random.default_rng(0)
    lines = ["split,label," + ",".join(FIXTURE_COLUMNS)]
    for split in ("train", "val", "test") if with_val else ("train", "test"):
        for number in range(rows_per_split * num_classes):
            label = number % num_classes
            stem = f"{split}_{number:03d}"
            time = np.arange(FIXTURE_RATE // 2) / FIXTURE_RATE
            tone = 0.5 * np.sin(2 * np.pi * 300.0 * (label + 1) * time) + 0.01 * rng.standard_normal(time.size)
            write_wav(os.path.join(root, "audio", f"{stem}.wav"), tone, FIXTURE_RATE)
            image = np.clip(40 + 80 * label + rng.integers(0, 20, (24, 24, 3)), 0, 255).astype(np.uint8)
            tf.io.write_file(os.path.join(root, "image", f"{stem}.png"), tf.io.encode_png(image))
            np.save(os.path.join(root, "features", f"{stem}.npy"), (label + rng.standard_normal(8) * 0.1).astype(np.float32))
            lines.append(f"{split},{names[label]},image/{stem}.png,audio/{stem}.wav,features/{stem}.npy")
    write_text(os.path.join(root, FIXTURE_CSV), "\n".join(lines) + "\n")
    return {"name": "manifest", "manifest": os.path.join(root, FIXTURE_CSV), "teacher": "image", "student": "audio",
            "image_size": 32, "audio_samples": 4000, "batch_size": 4}
