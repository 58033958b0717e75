"""Reading the official labelled release: the ``.mat`` files, the splits, the 40-class mapping.

The formats are described in the package docstring; both MATLAB v5 (scipy) and
v7.3 (HDF5, h5py) are accepted for the two small files.
"""

from __future__ import annotations

import numpy as np

from fdkd_tf.data.nyudv2.layout import CLASS_NAMES, DEPTH_PNG_SCALE, NUM_CLASSES, STORED_IGNORE

NUM_RAW_CLASSES = 894
NUM_LABELLED = 1449
RAW_FILES = {"data": "nyu_depth_v2_labeled.mat", "splits": "splits.mat", "mapping": "classMapping40.mat"}

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
