"""A miniature prepared NYU-Depth V2 directory, for tests and smoke runs (the registry's fixture)."""

from __future__ import annotations

import os

import numpy as np

from fdkd_tf.data.nyudv2.layout import CLASS_NAMES, CLASSES_FILE, NUM_CLASSES, SPLIT_FILES, STORED_IGNORE, sample_id, sample_path
from fdkd_tf.data.nyudv2.preparation import write_png
from fdkd_tf.files import write_text


def write_nyudv2_fixture(root: str, split_sizes: dict = None, size: tuple = (32, 64)) -> dict:
    """Writes ``split_sizes`` samples per split (default 4 train, 2 test) of ``size`` pixels.

    RGB is noise, depth a per-sample ramp in millimetres, labels random classes with
    an unlabelled (255) band along the top, so an ignore-label check has pixels to find.

    Returns:
        The ``data`` keys that select it.
    """
    split_sizes = split_sizes or {"train": 4, "test": 2}
    rng, index = np.random.default_rng(0), 0
    for split, count in split_sizes.items():
        indices = []
        for _ in range(count):
            index += 1
            labels = rng.integers(0, NUM_CLASSES, size).astype(np.uint8)
            labels[: size[0] // 8] = STORED_IGNORE
            depth = (np.linspace(500, 4000, size[1])[None, :] * (1 + index / 10) + np.zeros(size)).astype(np.uint16)
            write_png(sample_path(root, "rgb", index), rng.integers(0, 256, size + (3,), dtype=np.uint8))
            write_png(sample_path(root, "depth", index), depth)
            write_png(sample_path(root, "label", index), labels)
            indices.append(index)
        write_text(os.path.join(root, SPLIT_FILES[split]), "".join(f"{sample_id(i)}\n" for i in indices))
    write_text(os.path.join(root, CLASSES_FILE), "".join(f"{name}\n" for name in CLASS_NAMES))
    return {"name": "nyudv2", "root": root, "teacher": "rgb", "student": "depth", "image_size": 32,
            "val_fraction": 0.25, "batch_size": 2}
