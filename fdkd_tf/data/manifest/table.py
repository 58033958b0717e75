"""The manifest CSV: columns, kinds, classes and the checked rows of every split.

A manifest is a CSV with a header row: ``split`` (train, val or test), ``label``
(a class name) and one column per modality, each cell a path relative to the CSV.
Only the columns the run reads (``data.teacher`` and ``data.student``) are checked;
others may stay empty. Checks read file headers only (image signature, ``.npy``
header, the audio or video stream of a media file), never whole files, except
``.txt`` cells, which are read (they are tokenized up front).
"""

from __future__ import annotations

import csv
import dataclasses
import os
from typing import Optional

import numpy as np

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.data.images import has_image_signature

SPLITS = ("train", "val", "test")
REQUIRED_COLUMNS = ("split", "label")
CLASSES_FILE = "classes.txt"
#: File extension -> modality kind.
EXTENSION_KINDS = {
    ".wav": "audio", ".flac": "audio", ".mp3": "audio", ".ogg": "audio",
    ".jpg": "image", ".jpeg": "image", ".png": "image", ".bmp": "image", ".gif": "image",
    ".npy": "npy",
    ".txt": "text",
    ".mp4": "video", ".avi": "video", ".mov": "video", ".mkv": "video", ".webm": "video", ".flv": "video",
}
KINDS = ("audio", "image", "npy", "text", "video")


@dataclasses.dataclass(frozen=True)
class Column:
    """A modality column the run reads: its CSV name, its kind, and (``npy``) the array shape."""

    name: str
    kind: str
    shape: Optional[tuple] = None


@dataclasses.dataclass
class Row:
    """A checked row: its CSV line, split, class index, and one absolute path per read column."""

    line: int
    split: str
    label: int
    paths: dict


@dataclasses.dataclass
class ManifestTable:
    """What `read_manifest` found: the read columns, the class names and the usable rows."""

    path: str
    columns: dict  # "teacher"/"student" -> Column
    class_names: list
    rows: list
    skipped: list

    def split_rows(self, split: str) -> list:
        return [row for row in self.rows if row.split == split]


def _bad(message: str, on_bad: str, skipped: list) -> None:
    if on_bad == "error":
        raise DataFormatError(f"{message}; fix the row or set data.on_bad_sample: skip")
    skipped.append(message)


def resolve_columns(header: list, data_cfg: DataConfig, path: str) -> dict:
    """``{"teacher": column, "student": column}`` names for ``data.teacher`` / ``data.student``.

    Each names a modality column of the CSV; when it does not, a column literally
    called ``teacher`` (``student``) is used, so a two-column manifest needs no keys.

    Raises:
        ConfigError: naming the key and the CSV's modality columns.
    """
    modality_columns = [name for name in header if name not in REQUIRED_COLUMNS]
    names = {}
    for key in ("teacher", "student"):
        wanted = getattr(data_cfg, key)
        if wanted in modality_columns:
            names[key] = wanted
        elif key in modality_columns:
            names[key] = key
        else:
            raise ConfigError(
                f"config key 'data.{key}' must name a modality column of {path} "
                f"({', '.join(modality_columns) or 'none'}), got {wanted!r}"
            )
    if names["teacher"] == names["student"]:
        raise ConfigError(f"config keys 'data.teacher' and 'data.student' both read column {names['teacher']!r} of {path}")
    return names


def read_classes_file(directory: str) -> Optional[list]:
    """Class names from ``classes.txt`` beside the CSV (one per line, line i = class i), or None."""
    path = os.path.join(directory, CLASSES_FILE)
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8") as handle:
        names = [line.strip() for line in handle if line.strip()]
    if not names or len(set(names)) != len(names):
        raise DataFormatError(f"{path} must list each class once, one per line")
    return names


def check_file(path: str, kind: str) -> Optional[tuple]:
    """Checks that a cell's file exists and looks like ``kind`` (headers only).

    Returns:
        The array shape for ``npy``, else None.

    Raises:
        ValueError: with a short reason.
    """
    if not os.path.isfile(path):
        raise ValueError("file not found")
    if os.path.getsize(path) == 0:
        raise ValueError("empty file")
    if kind == "image":
        with open(path, "rb") as handle:
            if not has_image_signature(handle.read(8)):
                raise ValueError("not a JPEG, PNG, GIF or BMP image")
        return None
    if kind == "npy":
        try:
            with open(path, "rb") as handle:
                major, _ = np.lib.format.read_magic(handle)
                read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
                shape, _, dtype = read_header(handle)
        except (ValueError, OSError) as error:
            raise ValueError(f"not a .npy array ({error})") from None
        if not (np.issubdtype(dtype, np.number) or np.issubdtype(dtype, np.bool_)):
            raise ValueError(f"array of dtype {dtype} is not numeric")
        return tuple(int(n) for n in shape)
    if kind == "text":
        try:
            with open(path, encoding="utf-8") as handle:
                handle.read()
        except UnicodeDecodeError as error:
            raise ValueError(f"not UTF-8 text ({error.reason})") from None
        return None
    import av  # audio and video: the container must open and hold the stream

    try:
        with av.open(path) as container:
            streams = container.streams.audio if kind == "audio" else container.streams.video
            if not streams:
                raise ValueError(f"no {kind} stream")
    except (av.error.FFmpegError, OSError) as error:
        raise ValueError(f"unreadable {kind} file ({error})") from None
    return None


def read_manifest(data_cfg: DataConfig) -> ManifestTable:
    """Reads and checks ``data.manifest``.

    Kinds come from the cells' extensions (`EXTENSION_KINDS`) unless
    ``data.teacher_kind`` / ``data.student_kind`` set them. Class names are those of
    ``classes.txt`` beside the CSV when it exists (then a label outside it is a bad
    row), else the sorted labels of all rows.

    Raises:
        ConfigError: for a missing ``data.manifest`` or a column key that names no column.
        DataFormatError: for a CSV without a header or the required columns, and
            (``data.on_bad_sample: error``) for the first bad row, naming its line:
            a split other than train/val/test, an empty label or cell, a label outside
            ``classes.txt``, an extension of another kind, a missing, empty or
            unreadable file, an array shape unlike the column's first.
    """
    path = data_cfg.manifest
    if not path or not os.path.isfile(path):
        raise ConfigError(
            f"config key 'data.manifest' must be the manifest CSV (split,label,<modality columns>) "
            f"for data.name 'manifest', got {path!r} (not a file)"
        )
    directory = os.path.dirname(os.path.abspath(path))
    on_bad, skipped = data_cfg.on_bad_sample, []
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            header = [name.strip() for name in (reader.fieldnames or [])]
            missing = [name for name in REQUIRED_COLUMNS if name not in header]
            if missing:
                raise DataFormatError(
                    f"{path}, line 1: the header must hold the columns split, label and one per modality; "
                    f"missing {', '.join(missing)} (header: {','.join(header) or 'empty'})"
                )
            reader.fieldnames = header
            names = resolve_columns(header, data_cfg, path)
            raw = [(reader.line_num, record) for record in reader]
    except UnicodeDecodeError as error:
        raise DataFormatError(f"{path} is not UTF-8 text (byte {error.start}); save it as UTF-8") from None
    except csv.Error as error:
        raise DataFormatError(f"{path}: not a valid CSV ({error})") from None

    declared = read_classes_file(directory)
    kinds = {key: getattr(data_cfg, f"{key}_kind") for key in names}
    shapes: dict = {}
    candidates = []
    for line, record in raw:
        where = f"{path}, line {line}"
        if None in record:
            _bad(f"{where}: more fields than the header's {len(header)}", on_bad, skipped)
            continue
        split = (record.get("split") or "").strip()
        label = (record.get("label") or "").strip()
        if split not in SPLITS:
            _bad(f"{where}: split must be one of {', '.join(SPLITS)}, got {split!r}", on_bad, skipped)
            continue
        if not label:
            _bad(f"{where}: empty label", on_bad, skipped)
            continue
        if declared is not None and label not in declared:
            _bad(f"{where}: label {label!r} is not in {os.path.join(directory, CLASSES_FILE)}", on_bad, skipped)
            continue
        paths, problem = {}, None
        for key, column in names.items():
            cell = (record.get(column) or "").strip()
            if not cell:
                problem = f"column {column!r} is empty"
                break
            extension_kind = EXTENSION_KINDS.get(os.path.splitext(cell)[1].lower())
            kind = getattr(data_cfg, f"{key}_kind")
            if kind is None:
                if extension_kind is None:
                    problem = (
                        f"column {column!r}: cannot tell the kind of {cell!r} from its extension; "
                        f"set data.{key}_kind to one of {', '.join(KINDS)}"
                    )
                    break
                kind = kinds[key] = kinds[key] or extension_kind  # the column's first cell decides
                if extension_kind != kind:
                    problem = f"column {column!r}: {cell!r} is {extension_kind}, but the column holds {kind} (set data.{key}_kind to override)"
                    break
            file_path = os.path.normpath(os.path.join(directory, cell))
            try:
                shape = check_file(file_path, kind)
            except ValueError as error:
                problem = f"column {column!r}: {file_path}: {error}"
                break
            if shape is not None and shapes.setdefault(key, shape) != shape:
                problem = f"column {column!r}: {file_path} holds an array of shape {shape}, the column's first {shapes[key]}"
                break
            paths[key] = file_path
        if problem is not None:
            _bad(f"{where}: {problem}", on_bad, skipped)
            continue
        candidates.append((line, split, label, paths))
    class_names = declared if declared is not None else sorted({label for _, _, label, _ in candidates})
    class_index = {name: index for index, name in enumerate(class_names)}
    rows = [Row(line, split, class_index[label], paths) for line, split, label, paths in candidates]
    columns = {key: Column(names[key], kinds[key] or "npy", shapes.get(key)) for key in names}
    return ManifestTable(path, columns, list(class_names), rows, skipped)
