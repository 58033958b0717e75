"""The prepared NYU-Depth V2 layout: its constants, file names and checks.

What `fdkd_tf.data.nyudv2.preparation` writes and `fdkd_tf.data.nyudv2.pipeline`
reads (the layout is drawn in the package docstring). Every check names the file
and the fix; none keeps an image in memory.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import struct
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError

NUM_CLASSES = 40
NUM_RAW_CLASSES = 894
NUM_LABELLED = 1449
#: the 40 classes of Gupta et al. (classMapping40.mat ``className``), in index order
CLASS_NAMES = [
    "wall", "floor", "cabinet", "bed", "chair", "sofa", "table", "door", "window", "bookshelf",
    "picture", "counter", "blinds", "desk", "shelves", "curtain", "dresser", "pillow", "mirror", "floor mat",
    "clothes", "ceiling", "books", "refridgerator", "television", "paper", "towel", "shower curtain", "box", "whiteboard",
    "person", "night stand", "toilet", "sink", "lamp", "bathtub", "bag", "otherstructure", "otherfurniture", "otherprop",
]  # fmt: skip
OFFICIAL_SPLIT_SIZES = {"train": 795, "test": 654}
MODALITIES = ("rgb", "depth")
#: label value of unlabelled pixels in the prepared label PNGs
STORED_IGNORE = 255
DEPTH_PNG_SCALE = 1000.0  # depth PNG units per metre (millimetres)
DEPTH_RANGE_M = 10.0  # depth input = metres / DEPTH_RANGE_M
#: input sides must be multiples of this (the encoder's output stride)
SIZE_MULTIPLE = 32
SPLIT_FILES = {"train": "train.txt", "test": "test.txt"}
CLASSES_FILE = "classes.txt"
#: prepared sub-directory per stored array; PNG (bit depth, colour type: 0 grey, 2 RGB)
PNG_FORMATS = {"rgb": (8, 2), "depth": (16, 0), "label": (8, 0)}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

def sample_id(index: int) -> str:
    """File stem of the sample at 1-based ``.mat`` index ``index``: ``0001`` .. ``1449``."""
    return f"{index:04d}"


def sample_path(root: str, kind: str, index: int) -> str:
    """Prepared file of one sample: ``root/<kind>/<id>.png`` (kind: rgb | depth | label)."""
    return os.path.join(root, kind, f"{sample_id(index)}.png")


def _normalized_name(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())



def png_header(path: str) -> tuple[int, int, int, int]:
    """``(height, width, bit_depth, colour_type)`` from a PNG's IHDR chunk.

    Raises:
        ValueError: when the file is empty, truncated or not a PNG.
    """
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) < 26 or not head.startswith(_PNG_SIGNATURE) or head[12:16] != b"IHDR":
        raise ValueError("empty or not a PNG file" if not head else "not a PNG file (bad header)")
    width, height = struct.unpack(">II", head[16:24])
    return height, width, head[24], head[25]


def check_sample(root: str, index: int) -> tuple[Optional[tuple[int, int]], Optional[str]]:
    """Checks one prepared sample without keeping it: headers of the three PNGs and label values.

    Returns:
        ``((height, width), None)`` when the sample is usable, else ``(None, reason)``
        where the reason names the file.
    """
    size = None
    for kind, (bit_depth, colour_type) in PNG_FORMATS.items():
        path = sample_path(root, kind, index)
        try:
            header = png_header(path)
        except OSError as error:
            return None, f"{path}: cannot read ({error.strerror or error})"
        except ValueError as error:
            return None, f"{path}: {error}"
        if header[2:] != (bit_depth, colour_type):
            return None, f"{path}: {header[2]}-bit PNG of colour type {header[3]}, expected {bit_depth}-bit of type {colour_type}"
        if header[0] == 0 or header[1] == 0:
            return None, f"{path}: empty image"
        if size is not None and header[:2] != size:
            return None, f"{path}: {header[0]}x{header[1]} differs from the RGB image's {size[0]}x{size[1]}"
        size = header[:2]
    path = sample_path(root, "label", index)
    try:
        with open(path, "rb") as handle:
            labels = tf.io.decode_png(handle.read(), channels=1).numpy()
    except (OSError, tf.errors.InvalidArgumentError) as error:
        return None, f"{path}: cannot decode ({str(error).splitlines()[0]})"
    values = np.unique(labels)
    bad = values[(values >= NUM_CLASSES) & (values != STORED_IGNORE)]
    if bad.size:
        return None, f"{path}: label {int(bad[0])} outside 0..{NUM_CLASSES - 1} and {STORED_IGNORE} (unlabelled)"
    return size, None


def read_split_file(path: str, on_bad_sample: str, bad: list) -> list[int]:
    """Sample indices listed in a split file, one positive integer per line.

    Blank lines are ignored. A line that is not a positive integer, or repeats
    an earlier one, raises an error naming the file and the line, or with
    ``on_bad_sample: skip`` is appended to ``bad`` and skipped.

    Raises:
        ConfigError: when the file is missing.
        ValueError: for a bad line with ``on_bad_sample: error``.
    """
    if not os.path.isfile(path):
        raise ConfigError(
            f"NYU-Depth V2 split file not found: {path} (config key 'data.root'); prepare the release "
            "with tools/prepare_nyudv2.py --src RAW_DIR --out DATA_DIR"
        )
    indices, seen = [], set()
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            text = line.strip()
            if not text:
                continue
            problem = None
            if not re.fullmatch(r"\d+", text) or int(text) < 1:
                problem = f"{text!r} is not a sample id (a positive integer: the 1-based index of the labelled .mat)"
            elif int(text) in seen:
                problem = f"sample {text} is listed twice"
            if problem is None:
                seen.add(int(text))
                indices.append(int(text))
                continue
            message = f"{path}, line {number}: {problem}"
            if on_bad_sample == "error":
                raise ValueError(f"{message}; fix the line or set data.on_bad_sample: skip")
            bad.append(message)
    return indices


def read_class_names(root: str) -> list[str]:
    """The 40 names of ``classes.txt``; warns about names that differ from `CLASS_NAMES`.

    Raises:
        ConfigError: when the file is missing.
        ValueError: naming the file when it does not hold 40 names.
    """
    path = os.path.join(root, CLASSES_FILE)
    if not os.path.isfile(path):
        raise ConfigError(f"{path} not found (config key 'data.root'); run tools/prepare_nyudv2.py first")
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if len(names) != NUM_CLASSES:
        raise ValueError(f"{path} lists {len(names)} classes, NYU-Depth V2 has {NUM_CLASSES}; rerun tools/prepare_nyudv2.py")
    differing = [
        f"{index}: {name!r} (official {official!r})"
        for index, (name, official) in enumerate(zip(names, CLASS_NAMES))
        if _normalized_name(name) != _normalized_name(official)
    ]
    if differing:
        warnings.warn(f"{path}: class names differ from the official 40-class list: {'; '.join(differing)}", UserWarning, stacklevel=2)
    return names



def scan_samples(root: str, indices: list[int], on_bad_sample: str, bad: list) -> tuple[list[int], Optional[tuple[int, int]]]:
    """Checks every listed sample (`check_sample`, in parallel) and keeps the good ones.

    All samples must share one size (they are batched whole for evaluation).

    Returns:
        ``(good indices in order, (height, width))``.

    Raises:
        ValueError: naming the file of the first bad sample with ``on_bad_sample: error``.
    """
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(16, (os.cpu_count() or 1) * 2)) as pool:
        results = list(pool.map(lambda index: check_sample(root, index), indices))
    good, size = [], None
    for index, (sample_size, reason) in zip(indices, results):
        if reason is None and size is not None and sample_size != size:
            reason = f"{sample_path(root, 'rgb', index)}: {sample_size[0]}x{sample_size[1]} differs from the other samples' {size[0]}x{size[1]}"
        if reason is not None:
            if on_bad_sample == "error":
                raise ValueError(f"bad NYU-Depth V2 sample {sample_id(index)}: {reason}; fix it or set data.on_bad_sample: skip")
            bad.append(reason)
            continue
        size = size or sample_size
        good.append(index)
    return good, size


def carve_validation(train: list[int], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Splits the official training indices into (train, val): ``round(n * fraction)``
    random samples (at least 1, at most n - 1) for validation, fixed by ``seed``.

    Returns:
        ``(train, val)``, each in the order of ``train``.

    Raises:
        ValueError: when fewer than 2 training samples are left to split.
    """
    if len(train) < 2:
        raise ValueError(f"NYU-Depth V2 needs at least 2 training samples to carve a validation split, got {len(train)}")
    count = min(max(int(round(len(train) * fraction)), 1), len(train) - 1)
    chosen = set(np.random.default_rng(seed).permutation(len(train))[:count].tolist())
    return [i for k, i in enumerate(train) if k not in chosen], [i for k, i in enumerate(train) if k in chosen]
