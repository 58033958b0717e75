"""NYU-Depth V2 (labelled release): RGB and depth semantic segmentation, 40 classes.

The paper segments the 1,449 densely labelled RGB-D pairs of NYU-Depth V2 into the
standard 40 classes (Gupta et al., 2013) with the standard 795 / 654 train / test
split (Silberman et al., 2012), scored by mean IoU. Either modality teaches the
other (``data.teacher`` / ``data.student``: ``rgb`` or ``depth``).

**Raw release** (``tools/prepare_nyudv2.py --src RAW_DIR``), three files:

- ``nyu_depth_v2_labeled.mat``: MATLAB v7.3 (HDF5). MATLAB stores arrays
  column-major, so h5py sees them transposed: ``images`` ``(1449, 3, 640, 480)``
  uint8, ``depths`` ``(1449, 640, 480)`` float (metres, holes filled), ``labels``
  ``(1449, 640, 480)`` uint16 with 0 = unlabelled and 1..894 the raw classes.
  Sample ``i`` is ``images[i].transpose(2, 1, 0)`` -> ``(480, 640, 3)``.
- ``splits.mat``: ``trainNdxs`` (795) and ``testNdxs`` (654), 1-based indices
  into the ``.mat`` (from the NYU-Depth V2 site).
- ``classMapping40.mat``: ``mapClass`` (894 values in 1..40: raw class k -> its
  40-class index) and ``className`` (the 40 names), from Gupta et al.'s release
  (``benchmarkData/metadata``).

Both ``.mat`` formats (v5, read with scipy; v7.3, read with h5py) are accepted for
the two small files.

**Prepared layout** (``--out DATA_DIR``, what `build_nyudv2` reads)::

    rgb/0001.png     8-bit RGB, 480 x 640
    depth/0001.png   16-bit grey, depth in millimetres (metres * 1000, rounded)
    label/0001.png   8-bit grey, 40-class index 0..39, 255 = unlabelled (ignored)
    train.txt        one sample id per line: the 1-based .mat index (795 lines)
    test.txt         the same for the test split (654 lines)
    classes.txt      the 40 class names, one per line, in index order
    prepare_report.json   counts and the samples that could not be prepared

The validation split that selects checkpoints is carved out of ``train.txt``
(``data.val_fraction`` of it, fixed by ``data.split_seed``); the test split is the
official one. Training views are randomly scaled (x1 to x1.5), cropped to
``data.image_size`` squared and flipped, identically for RGB, depth and labels;
evaluation uses the whole 480 x 640 image. RGB is ImageNet-normalised, depth is
divided by `DEPTH_RANGE_M` (10 m, the sensor range of the release).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
import re
import struct
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.determinism import with_determinism
from fdkd_tf.data.images import normalize_imagenet
from fdkd_tf.data.registry import register_dataset
from fdkd_tf.data.sample_store import files_fingerprint
from fdkd_tf.files import atomic_path, write_json, write_text

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
TRAIN_SCALE_RANGE = (1.0, 1.5)  # random up-scaling before the training crop
#: input sides must be multiples of this (the encoder's output stride)
SIZE_MULTIPLE = 32

RAW_FILES = {"data": "nyu_depth_v2_labeled.mat", "splits": "splits.mat", "mapping": "classMapping40.mat"}
SPLIT_FILES = {"train": "train.txt", "test": "test.txt"}
CLASSES_FILE = "classes.txt"
REPORT_FILE = "prepare_report.json"
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


# --------------------------------------------------------------------------- raw release


def read_mat_variables(path: str, names: tuple[str, ...]) -> dict:
    """Reads named variables of a MATLAB file, v5 (scipy) or v7.3 (HDF5, h5py).

    Numeric arrays come back as numpy arrays (as MATLAB shapes them for v5,
    transposed by HDF5 for v7.3: use ``ravel()`` for vectors). Cell arrays of
    strings come back as lists of str.

    Args:
        path: the ``.mat`` file.
        names: variables to read; missing ones are absent from the result.

    Returns:
        ``{name: array or list of str}``.

    Raises:
        ValueError: naming ``path`` when it is neither MATLAB format.
    """
    import scipy.io

    try:
        contents = scipy.io.loadmat(path)
    except NotImplementedError:  # v7.3: HDF5
        return _read_hdf5_variables(path, names)
    except Exception as error:  # noqa: BLE001 - re-raised naming the file
        raise ValueError(f"cannot read MATLAB file {path}: {error}") from None
    result = {}
    for name in names:
        if name not in contents:
            continue
        value = contents[name]
        if value.dtype == object:  # a cell array
            result[name] = [str(np.asarray(item).ravel()[0]) if np.asarray(item).size else "" for item in value.ravel()]
        else:
            result[name] = value
    return result


def _read_hdf5_variables(path: str, names: tuple[str, ...]) -> dict:
    import h5py

    result = {}
    try:
        with h5py.File(path, "r") as handle:
            for name in names:
                if name not in handle:
                    continue
                dataset = handle[name]
                if dataset.dtype == h5py.ref_dtype:  # a cell array of strings
                    result[name] = ["".join(chr(int(c)) for c in np.asarray(handle[ref]).ravel()) for ref in dataset[()].ravel()]
                else:
                    result[name] = dataset[()]
    except OSError as error:
        raise ValueError(f"cannot read MATLAB file {path}: {error}") from None
    return result


def read_official_splits(path: str, num_samples: int) -> dict[str, np.ndarray]:
    """``trainNdxs`` / ``testNdxs`` of ``splits.mat`` as 1-based index arrays, checked.

    Raises:
        ValueError: naming ``path`` when a variable is missing, an index is not an
            integer in ``1..num_samples``, repeats, or is in both splits.
    """
    variables = read_mat_variables(path, ("trainNdxs", "testNdxs"))
    splits = {}
    for split, name in (("train", "trainNdxs"), ("test", "testNdxs")):
        if name not in variables:
            raise ValueError(f"{path} has no variable {name!r}; it must be the official splits.mat (trainNdxs, testNdxs)")
        values = np.asarray(variables[name], dtype=np.float64).ravel()
        bad = values[(values != np.round(values)) | (values < 1) | (values > num_samples)]
        if bad.size:
            raise ValueError(f"{path}: {name} holds {float(bad[0]):g}, not a 1-based index into the {num_samples} labelled samples")
        indices = values.astype(np.int64)
        if len(np.unique(indices)) != len(indices):
            raise ValueError(f"{path}: {name} lists an index twice")
        splits[split] = indices
    overlap = np.intersect1d(splits["train"], splits["test"])
    if overlap.size:
        raise ValueError(f"{path}: index {int(overlap[0])} is in both trainNdxs and testNdxs")
    return splits


def read_class_mapping(path: str) -> tuple[np.ndarray, list[str]]:
    """The 894 -> 40 lookup table and the 40 class names from ``classMapping40.mat``.

    Returns:
        ``(lookup, names)``: ``lookup`` is uint8 of length ``len(mapClass) + 1``;
        ``lookup[raw]`` is the 0-based class of raw label ``raw`` and
        ``lookup[0] = 255`` (unlabelled). ``names`` is ``className`` or
        `CLASS_NAMES` when the file has none.

    Raises:
        ValueError: naming ``path`` and the position of a value outside 1..40, or
            a ``className`` that does not hold 40 names.
    """
    variables = read_mat_variables(path, ("mapClass", "className"))
    if "mapClass" not in variables:
        raise ValueError(f"{path} has no variable 'mapClass'; it must be Gupta et al.'s classMapping40.mat")
    mapping = np.asarray(variables["mapClass"], dtype=np.float64).ravel()
    bad = np.flatnonzero((mapping != np.round(mapping)) | (mapping < 1) | (mapping > NUM_CLASSES))
    if bad.size:
        raise ValueError(
            f"{path}: mapClass({int(bad[0]) + 1}) = {float(mapping[bad[0]]):g} is not a class index in 1..{NUM_CLASSES}"
        )
    names = variables.get("className", list(CLASS_NAMES))
    if len(names) != NUM_CLASSES:
        raise ValueError(f"{path}: className holds {len(names)} names, expected {NUM_CLASSES}")
    lookup = np.full(len(mapping) + 1, STORED_IGNORE, np.uint8)
    lookup[1:] = mapping.astype(np.uint8) - 1
    return lookup, [str(name) for name in names]


def raw_sample(handle, index: int) -> dict[str, np.ndarray]:
    """One sample of the open labelled ``.mat`` in image orientation.

    Args:
        handle: open `h5py.File` of ``nyu_depth_v2_labeled.mat``.
        index: 0-based sample index.

    Returns:
        ``{"rgb": (H, W, 3) uint8, "depth": (H, W) float metres, "labels": (H, W) raw labels}``.
    """
    return {
        "rgb": np.asarray(handle["images"][index]).transpose(2, 1, 0),
        "depth": np.asarray(handle["depths"][index]).T,
        "labels": np.asarray(handle["labels"][index]).T,
    }


def convert_sample(sample: dict, lookup: np.ndarray) -> dict[str, np.ndarray]:
    """Raw arrays -> what the PNGs store: uint8 RGB, uint16 mm depth, uint8 40-class labels.

    Raises:
        ValueError: for a raw label outside ``0..len(lookup) - 1``, a non-finite,
            negative or over-65.535 m depth, or mismatched sizes; the message says which.
    """
    rgb, depth, labels = sample["rgb"], sample["depth"], sample["labels"]
    if rgb.ndim != 3 or rgb.shape[2] != 3 or depth.shape != rgb.shape[:2] or labels.shape != rgb.shape[:2]:
        raise ValueError(f"sizes differ: image {rgb.shape}, depth {depth.shape}, labels {labels.shape}")
    if rgb.size == 0:
        raise ValueError("empty image")
    raw = np.asarray(labels)
    if raw.min() < 0 or raw.max() >= len(lookup) or not np.all(raw == np.round(raw)):
        raise ValueError(f"raw label {raw.max() if raw.max() >= len(lookup) else raw.min()} outside 0..{len(lookup) - 1}")
    depth = np.asarray(depth, dtype=np.float64)
    if not np.all(np.isfinite(depth)) or depth.min() < 0 or depth.max() * DEPTH_PNG_SCALE > np.iinfo(np.uint16).max:
        raise ValueError(f"depth outside 0..65.535 m or not finite (min {np.nanmin(depth)}, max {np.nanmax(depth)})")
    return {
        "rgb": np.asarray(rgb, dtype=np.uint8),
        "depth": np.round(depth * DEPTH_PNG_SCALE).astype(np.uint16),
        "label": lookup[raw.astype(np.int64)],
    }


def write_png(path: str, image: np.ndarray) -> None:
    """Writes ``(H, W)`` or ``(H, W, C)`` uint8 / uint16 ``image`` as a PNG, atomically."""
    if image.ndim == 2:
        image = image[:, :, None]
    encoded = tf.io.encode_png(tf.constant(image)).numpy()
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(encoded)


def is_prepared(out_dir: str, index: int) -> bool:
    """Whether all three PNGs of sample ``index`` exist (written atomically, so complete)."""
    return all(os.path.exists(sample_path(out_dir, kind, index)) for kind in PNG_FORMATS)


@dataclasses.dataclass
class PreparationReport:
    """What one `prepare_nyudv2` run did (also written as ``prepare_report.json``)."""

    total: int = 0
    prepared: int = 0
    already_done: int = 0
    failed: dict = dataclasses.field(default_factory=dict)  # sample id -> reason
    split_sizes: dict = dataclasses.field(default_factory=dict)


def prepare_nyudv2(src: str, out: str, on_bad_sample: str = "skip", progress: bool = True) -> PreparationReport:
    """Official labelled release -> the prepared layout `build_nyudv2` reads.

    Resumable: a sample whose three PNGs exist is skipped. A sample that cannot
    be read or converted is listed with the reason in the report and left out
    of the split files (``on_bad_sample: skip``), or stops the run with an error
    naming it (``error``).

    Args:
        src: directory with `RAW_FILES`.
        out: the prepared directory (created).
        on_bad_sample: ``skip`` (report and continue) or ``error``.
        progress: show a progress bar.

    Returns:
        The `PreparationReport`.

    Raises:
        FileNotFoundError: naming a missing raw file.
        ValueError: for malformed split / mapping files or a ``.mat`` without the
            labelled arrays, naming the file; for a bad sample with ``error``.
    """
    import h5py

    if on_bad_sample not in ("skip", "error"):
        raise ValueError(f"on_bad_sample must be 'skip' or 'error', got {on_bad_sample!r}")
    if not os.path.isdir(src):
        raise FileNotFoundError(f"NYU-Depth V2 release directory not found: {src}")
    paths = {key: os.path.join(src, name) for key, name in RAW_FILES.items()}
    for key, path in paths.items():
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path} not found: --src must hold {', '.join(RAW_FILES.values())} (the labelled release, "
                "the official splits and Gupta et al.'s 40-class mapping)"
            )
    lookup, class_names = read_class_mapping(paths["mapping"])
    try:
        handle = h5py.File(paths["data"], "r")
    except OSError as error:
        raise ValueError(f"cannot open {paths['data']} as a MATLAB v7.3 (HDF5) file: {error}") from None
    with handle:
        for name in ("images", "depths", "labels"):
            if name not in handle:
                raise ValueError(f"{paths['data']} has no array {name!r}; it must be nyu_depth_v2_labeled.mat")
        num_samples = int(handle["images"].shape[0])
        if handle["depths"].shape[0] != num_samples or handle["labels"].shape[0] != num_samples:
            raise ValueError(f"{paths['data']}: images, depths and labels hold different numbers of samples")
        splits = read_official_splits(paths["splits"], num_samples)
        indices = sorted(set(splits["train"].tolist()) | set(splits["test"].tolist()))
        for kind in PNG_FORMATS:
            os.makedirs(os.path.join(out, kind), exist_ok=True)
        report = PreparationReport(total=len(indices))
        for index in _progress(indices, progress):
            if is_prepared(out, index):
                report.already_done += 1
                continue
            try:
                arrays = convert_sample(raw_sample(handle, index - 1), lookup)
            except (ValueError, OSError, KeyError) as error:
                reason = f"{type(error).__name__}: {error}"
                if on_bad_sample == "error":
                    raise ValueError(
                        f"{paths['data']}: sample {index} ({sample_id(index)}) cannot be prepared: {reason}; "
                        "pass --on-bad-sample skip to leave it out"
                    ) from None
                report.failed[sample_id(index)] = reason
                continue
            for kind, array in arrays.items():
                write_png(sample_path(out, kind, index), array)
            report.prepared += 1
    for split, split_indices in splits.items():
        kept = [sample_id(int(i)) for i in split_indices if sample_id(int(i)) not in report.failed]
        report.split_sizes[split] = len(kept)
        write_text(os.path.join(out, SPLIT_FILES[split]), "".join(f"{name}\n" for name in kept))
    write_text(os.path.join(out, CLASSES_FILE), "".join(f"{name}\n" for name in class_names))
    write_json(os.path.join(out, REPORT_FILE), dataclasses.asdict(report) | {"num_failed": len(report.failed)})
    return report


def _progress(items, enabled: bool):
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc="prepare nyudv2", unit="sample", dynamic_ncols=True)


# --------------------------------------------------------------------------- prepared layout


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


def _check_config(data_cfg: DataConfig) -> str:
    for key, value in (("data.teacher", data_cfg.teacher), ("data.student", data_cfg.student)):
        if value not in MODALITIES:
            raise ConfigError(f"config key '{key}' must be one of {', '.join(MODALITIES)} for data.name 'nyudv2', got {value!r}")
    if 0 <= data_cfg.ignore_label < NUM_CLASSES:
        raise ConfigError(
            f"config key 'data.ignore_label' must not be a class index 0..{NUM_CLASSES - 1}, got {data_cfg.ignore_label}"
        )
    if data_cfg.image_size % SIZE_MULTIPLE:
        raise ConfigError(
            f"config key 'data.image_size' must be a multiple of {SIZE_MULTIPLE} for NYU-Depth V2 "
            f"(the segmentation encoder's output stride), got {data_cfg.image_size}"
        )
    root = data_cfg.root
    if root is None or not os.path.isdir(root):
        raise ConfigError(
            f"config key 'data.root' must be the prepared NYU-Depth V2 directory, got {root!r}"
            f"{'' if root is None else ' (not a directory)'}; create it with tools/prepare_nyudv2.py"
        )
    return root


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


def _decode(root: str):
    """Returns ``load(index) -> (rgb uint8 (H, W, 3), depth uint16 (H, W, 1), label uint8 (H, W, 1))``."""
    root = root.rstrip("/\\")

    def load(index):
        stem = tf.strings.as_string(index, width=4, fill="0")
        read = lambda kind: tf.io.read_file(tf.strings.join([root, kind, stem + ".png"], separator=os.sep))  # noqa: E731
        rgb = tf.io.decode_png(read("rgb"), channels=3)
        depth = tf.io.decode_png(read("depth"), channels=1, dtype=tf.uint16)
        label = tf.io.decode_png(read("label"), channels=1)
        return rgb, depth, label

    return load


def to_model_inputs(rgb, depth, label, ignore_label: int):
    """Stored arrays -> ``({"rgb": float32, "depth": float32}, int32 labels (H, W))``.

    RGB is ImageNet-normalised, depth becomes metres / `DEPTH_RANGE_M`, and the
    stored unlabelled value 255 becomes ``ignore_label``.
    """
    labels = tf.cast(label[..., 0], tf.int32)
    labels = tf.where(labels == STORED_IGNORE, tf.constant(ignore_label, tf.int32), labels)
    depth = tf.cast(depth, tf.float32) / (DEPTH_PNG_SCALE * DEPTH_RANGE_M)
    return {"rgb": normalize_imagenet(rgb), "depth": depth}, labels


def random_scale_crop_flip(rgb, depth, label, size: int, seed):
    """The training view: one random scale in `TRAIN_SCALE_RANGE`, one ``size``
    square crop and one horizontal flip (p = 1/2), shared by RGB, depth and labels.

    RGB and depth are resized bilinearly, labels with nearest neighbour.

    Args:
        rgb, depth, label: ``(H, W, C)`` stored arrays, ``size <= min(H, W)``.
        size: crop side.
        seed: ``(3, 2)`` int stateless seeds (scale, crop, flip).

    Returns:
        ``(rgb float32, depth float32, label uint8)`` of ``(size, size, C)``.
    """
    shape = tf.cast(tf.shape(rgb)[:2], tf.float32)
    scale = tf.random.stateless_uniform([], seed[0], *TRAIN_SCALE_RANGE)
    scaled = tf.cast(tf.round(shape * scale), tf.int32)
    rgb = tf.image.resize(rgb, scaled, method="bilinear")
    depth = tf.image.resize(tf.cast(depth, tf.float32), scaled, method="bilinear")
    label = tf.image.resize(label, scaled, method="nearest")
    limit = scaled - size + 1  # (2,) number of valid offsets
    offset = tf.random.stateless_uniform([2], seed[1], 0, tf.int32.max, dtype=tf.int32) % limit
    crop = lambda image: image[offset[0] : offset[0] + size, offset[1] : offset[1] + size]  # noqa: E731
    flip = tf.random.stateless_uniform([], seed[2]) < 0.5
    views = []
    for image, channels in ((rgb, 3), (depth, 1), (label, 1)):
        image = crop(image)
        image = tf.where(flip, tf.reverse(image, [1]), image)
        image.set_shape([size, size, channels])
        views.append(image)
    return tuple(views)



def make_pipeline(
    root: str,
    indices: list[int],
    data_cfg: DataConfig,
    modalities: dict,
    train_seed: Optional[int] = None,
    deterministic: bool = False,
    batch: bool = True,
    full_size: Optional[tuple[int, int]] = None,
    keys: tuple = ("teacher", "student"),
    with_index: bool = False,
) -> tf.data.Dataset:
    """Sample indices -> ``({"teacher", "student"}, labels)`` pipeline.

    With ``train_seed`` the order is shuffled each epoch and every sample gets a
    fresh random scale / crop / flip (stateless, from per-epoch seeds), so a
    deterministic run repeats exactly; without it samples keep their order and
    full size. Decoding runs in parallel; batches are prefetched.

    Args:
        root: prepared directory.
        indices: 1-based sample indices.
        data_cfg: ``data`` config (batch size, image size, ignore label, buffer).
        modalities: ``{"teacher": "rgb" | "depth", "student": ...}``.
        train_seed: the training seed, or None for an evaluation pipeline.
        deterministic: ``tf.data.Options.deterministic``.
        batch: batch and prefetch (False for the unbatched `DatasetBundle.ordered`).
        full_size: ``(height, width)`` shared by all samples; evaluation elements get
            this static shape, which Keras' bilinear ``UpSampling2D`` (DeepLabV3+)
            needs inside a `tf.function`.
        keys: the modality keys to return (both are decoded: their crops are paired).
        with_index: add ``"index"``, each sample's int64 position in ``indices``.

    Returns:
        The `tf.data.Dataset`.
    """
    load = _decode(root)
    size = data_cfg.image_size
    dataset = tf.data.Dataset.from_tensor_slices(
        (np.asarray(indices, np.int64), np.arange(len(indices), dtype=np.int64))
    )
    if train_seed is not None:
        dataset = dataset.shuffle(max(len(indices), 1), seed=train_seed, reshuffle_each_iteration=True)
        seeds = tf.data.Dataset.random(seed=train_seed, rerandomize_each_iteration=True).batch(6)
        dataset = tf.data.Dataset.zip((dataset, seeds))

        def element(index, seed):
            rgb, depth, label = load(index)
            rgb, depth, label = random_scale_crop_flip(rgb, depth, label, size, tf.reshape(seed, (3, 2)))
            return rgb, depth, label

        def pair(row, seed):
            return to_pair(row, element(row[0], seed))
    else:

        def element(index):
            rgb, depth, label = load(index)
            if full_size is not None:
                for image in (rgb, depth, label):
                    image.set_shape([*full_size, image.shape[-1]])
            return rgb, depth, label

        def pair(index, position):
            return to_pair((index, position), element(index))

    def to_pair(row, decoded):
        inputs, labels = to_model_inputs(*decoded, data_cfg.ignore_label)
        chosen = {key: inputs[modalities[key]] for key in keys}
        if with_index:
            chosen["index"] = row[1]
        return chosen, labels

    dataset = dataset.map(pair, num_parallel_calls=tf.data.AUTOTUNE)
    if batch:
        dataset = dataset.batch(data_cfg.batch_size).prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic)


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


@register_dataset("nyudv2")
def build_nyudv2(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Builds the NYU-Depth V2 segmentation pipelines (prepared layout, see the module doc).

    Checks the layout before any training: split files parse, every listed
    sample's three PNGs exist with the right format and size, labels lie in
    0..39 or 255; split sizes are compared with the official 795 / 654 and a
    difference is warned about.

    Args:
        data_cfg: the ``data`` section (``root``, ``teacher`` / ``student``,
            ``image_size``, ``batch_size``, ``val_fraction``, ``split_seed``,
            ``ignore_label``, ``on_bad_sample``).
        seed: experiment seed; orders the training shuffle and augmentation.
        deterministic: reproducible element order.

    Returns:
        A `DatasetBundle` whose labels are ``(batch, H, W)`` int32 maps.

    Raises:
        ConfigError: for a bad ``data`` key, a missing root, split or classes file.
        ValueError: for a bad split line or sample with ``on_bad_sample: error``,
            naming the file (and line).

    Example:
        >>> cfg = DataConfig(name="nyudv2", root="data/nyudv2", teacher="rgb", student="depth")
        >>> bundle = build_nyudv2(cfg, seed=0)
        >>> bundle.input_shapes
        {'teacher': (None, None, 3), 'student': (None, None, 1)}
    """
    root = _check_config(data_cfg)
    class_names = read_class_names(root)
    bad: list[str] = []
    official = {
        split: read_split_file(os.path.join(root, name), data_cfg.on_bad_sample, bad) for split, name in SPLIT_FILES.items()
    }
    both = set(official["train"]) & set(official["test"])
    if both:
        raise ValueError(f"sample {sample_id(min(both))} is listed in both {SPLIT_FILES['train']} and {SPLIT_FILES['test']} under {root}")
    sizes_found = {split: len(indices) for split, indices in official.items()}
    if sizes_found != OFFICIAL_SPLIT_SIZES:
        warnings.warn(
            "NYU-Depth V2 split sizes differ from the official release: "
            + ", ".join(f"{SPLIT_FILES[s]} lists {sizes_found[s]} (official {OFFICIAL_SPLIT_SIZES[s]})" for s in SPLIT_FILES)
            + f" under {root}; numbers are not comparable with the paper's",
            UserWarning,
            stacklevel=2,
        )
    kept, image_size = {}, None
    for split, indices in official.items():
        kept[split], size = scan_samples(root, indices, data_cfg.on_bad_sample, bad)
        if image_size is not None and size is not None and size != image_size:
            raise ValueError(f"{split} images are {size[0]}x{size[1]}, train images {image_size[0]}x{image_size[1]} (under {root}); all samples must share one size")
        image_size = image_size or size
    if bad:
        warnings.warn(
            f"skipped {len(bad)} bad NYU-Depth V2 entries (data.on_bad_sample: skip): " + "; ".join(bad),
            UserWarning,
            stacklevel=2,
        )
    if not kept["test"]:
        raise ValueError(f"no usable test sample under {root}")
    if image_size is not None:
        if min(image_size) < data_cfg.image_size:
            raise ConfigError(
                f"config key 'data.image_size' ({data_cfg.image_size}) exceeds the images' {image_size[0]}x{image_size[1]}"
            )
        if image_size[0] % SIZE_MULTIPLE or image_size[1] % SIZE_MULTIPLE:
            raise ValueError(
                f"NYU-Depth V2 images under {root} are {image_size[0]}x{image_size[1]}; evaluation runs on whole images, "
                f"whose sides must be multiples of {SIZE_MULTIPLE}"
            )
    train, val = carve_validation(kept["train"], data_cfg.val_fraction, data_cfg.split_seed)
    split_indices = {"train": train, "val": val, "test": kept["test"]}
    modalities = {"teacher": data_cfg.teacher, "student": data_cfg.student}
    train_seed = int(seed) % (2**31 - 1)
    pipelines = {
        split: make_pipeline(
            root, indices, data_cfg, modalities, train_seed if split == "train" else None, deterministic, full_size=image_size
        )
        for split, indices in split_indices.items()
    }
    # Always in file order: representative_inputs and the tests read samples by position.
    ordered = {
        split: make_pipeline(root, indices, data_cfg, modalities, None, True, batch=False, full_size=image_size)
        for split, indices in split_indices.items()
    }
    indexed = {
        split: functools.partial(
            _indexed_pipeline, root, indices, data_cfg, modalities,
            train_seed if split == "train" else None, deterministic, image_size,
        )
        for split, indices in split_indices.items()
    }
    channels = {"rgb": 3, "depth": 1}
    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=NUM_CLASSES,
        class_names=class_names,
        input_shapes={key: (None, None, channels[modality]) for key, modality in modalities.items()},
        modalities=modalities,
        sizes={split: len(indices) for split, indices in split_indices.items()},
        ordered=ordered,
        indexed=indexed,
        deterministic_train_views={key: False for key in modalities},  # paired random scale, crop, flip
        fingerprint=files_fingerprint(
            sample_path(root, kind, index)
            for indices in split_indices.values() for index in indices for kind in ("rgb", "depth", "label")
        ),
    )


def _indexed_pipeline(root, indices, data_cfg, modalities, train_seed, deterministic, full_size, keys):
    """`DatasetBundle.indexed` of one split: the split's pipeline for ``keys`` with indices."""
    return make_pipeline(
        root, indices, data_cfg, modalities, train_seed, deterministic,
        full_size=full_size, keys=tuple(keys), with_index=True,
    )


__all__: list[str] = [
    "CLASS_NAMES",
    "NUM_CLASSES",
    "OFFICIAL_SPLIT_SIZES",
    "PreparationReport",
    "build_nyudv2",
    "prepare_nyudv2",
]
