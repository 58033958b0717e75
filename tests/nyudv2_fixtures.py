"""Tiny NYU-Depth V2 releases in the official layout, for the nyudv2 tests.

`write_raw_release` writes the three files `tools/prepare_nyudv2.py` reads:

- ``nyu_depth_v2_labeled.mat``: MATLAB v7.3, i.e. HDF5 behind a 512-byte MATLAB
  header, written with h5py. MATLAB is column-major, so an ``H x W x 3 x N`` image
  array appears to h5py as ``(N, 3, W, H)``, depths and labels as ``(N, W, H)``.
- ``splits.mat`` (v5): ``trainNdxs`` / ``testNdxs`` as MATLAB column vectors of doubles.
- ``classMapping40.mat`` (v5): ``mapClass`` (1 x 894 doubles) and ``className`` (1 x 40 cell).

It returns the arrays in image orientation (and the expected 40-class labels), so
tests can check that preparation transposes and maps them correctly.
"""

from __future__ import annotations

import os

import h5py
import numpy as np
import scipy.io

from fdkd_tf.data import nyudv2

MATLAB_73_HEADER = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Fri Nov 27 00:00:00 2026 HDF5 schema 1.00 ."


def write_raw_release(
    directory,
    num_samples: int = 10,
    height: int = 32,
    width: int = 64,
    train=(1, 3, 4, 6, 8, 9),
    test=(2, 5, 7, 10),
    seed: int = 0,
    bad_label_sample: int | None = None,
) -> dict:
    """Writes a tiny labelled release and returns what preparation should produce.

    Args:
        directory: where the three files go (created).
        num_samples: samples in the ``.mat``.
        height, width: image size (multiples of 32 for the segmentation model).
        train, test: 1-based indices of the two splits.
        seed: content seed.
        bad_label_sample: 1-based sample whose raw labels get a value above 894.

    Returns:
        ``{"rgb": (N, H, W, 3) uint8, "depth": (N, H, W) float32 metres,
        "raw_labels": (N, H, W), "labels": (N, H, W) 0..39 / 255, "map": (894,)}``.
    """
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(seed)
    rgb = rng.integers(0, 256, size=(num_samples, height, width, 3), dtype=np.uint8)
    rgb[:, : height // 2, : width // 4, 0] = 255  # an asymmetric mark: orientation shows
    depth = rng.uniform(0.5, 9.5, size=(num_samples, height, width)).astype(np.float32)
    raw_labels = rng.integers(0, 12, size=(num_samples, height, width)).astype(np.uint16)  # 0 = unlabelled
    raw_labels[:, 0, :] = 894  # the last raw class appears too
    mapping = rng.integers(1, nyudv2.NUM_CLASSES + 1, size=nyudv2.NUM_RAW_CLASSES)
    lookup = np.concatenate([[255], mapping - 1]).astype(np.uint8)
    labels = lookup[raw_labels]
    if bad_label_sample is not None:
        raw_labels[bad_label_sample - 1, 1, 1] = 900

    data_path = os.path.join(directory, nyudv2.RAW_FILES["data"])
    with h5py.File(data_path, "w", userblock_size=512) as handle:
        handle.create_dataset("images", data=rgb.transpose(0, 3, 2, 1))  # (N, 3, W, H)
        handle.create_dataset("depths", data=depth.transpose(0, 2, 1))  # (N, W, H)
        handle.create_dataset("labels", data=raw_labels.transpose(0, 2, 1))
    with open(data_path, "r+b") as raw:  # MATLAB's 128-byte header in the userblock
        raw.write(MATLAB_73_HEADER.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")

    scipy.io.savemat(
        os.path.join(directory, nyudv2.RAW_FILES["splits"]),
        {"trainNdxs": np.asarray(train, np.float64)[:, None], "testNdxs": np.asarray(test, np.float64)[:, None]},
    )
    names = np.empty((1, nyudv2.NUM_CLASSES), dtype=object)
    for index, name in enumerate(nyudv2.CLASS_NAMES):
        names[0, index] = name
    scipy.io.savemat(
        os.path.join(directory, nyudv2.RAW_FILES["mapping"]),
        {"mapClass": mapping.astype(np.float64)[None, :], "className": names},
    )
    return {"rgb": rgb, "depth": depth, "raw_labels": raw_labels, "labels": labels, "map": mapping}


def write_prepared_sample(root, index: int, rgb: np.ndarray, depth_mm: np.ndarray, labels: np.ndarray) -> None:
    """Writes one sample of the prepared layout directly (for loader-only tests)."""
    nyudv2.write_png(nyudv2.sample_path(root, "rgb", index), rgb.astype(np.uint8))
    nyudv2.write_png(nyudv2.sample_path(root, "depth", index), depth_mm.astype(np.uint16))
    nyudv2.write_png(nyudv2.sample_path(root, "label", index), labels.astype(np.uint8))
