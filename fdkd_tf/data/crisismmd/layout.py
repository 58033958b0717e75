"""The CrisisMMD split files (official and prepared): constants, parsing and checks.

Both kinds of TSV are read by `read_split_file`, line by line, every bad line
named with its file and line number; `load_split` reads one prepared split as the
pipeline sees it.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from typing import Optional

from fdkd_tf.config import ConfigError
from fdkd_tf.data.errors import DatasetWarning
from fdkd_tf.data.images import has_image_signature

#: task -> class names; a class's index is its position (sorted label strings).
TASK_CLASSES = {
    "informative": ["informative", "not_informative"],
    "humanitarian": [
        "affected_individuals",
        "infrastructure_and_utility_damage",
        "not_humanitarian",
        "other_relevant_information",
        "rescue_volunteering_or_donation_effort",
    ],
}
#: Pairs per official benchmark split (Ofli, Alam and Imran, 2020, Table 2).
OFFICIAL_SPLIT_SIZES = {
    "informative": {"train": 9601, "dev": 1573, "test": 1534},
    "humanitarian": {"train": 6126, "dev": 998, "test": 955},
}
OFFICIAL_SPLITS = ("train", "dev", "test")
#: our split name -> the official one
SPLIT_NAMES = {"train": "train", "val": "dev", "test": "test"}
#: Columns of the official split TSVs (header line included in each file).
OFFICIAL_COLUMNS = (
    "event_name",
    "tweet_id",
    "image_id",
    "tweet_text",
    "image",
    "label",
    "label_text",
    "label_image",
    "label_text_image",
)
#: Columns of the prepared split TSVs that the loader reads.
PREPARED_COLUMNS = ("tweet_id", "image_id", "image", "label", "tweet_text")
MODALITIES = ("text", "image")
IMAGE_DIR = "data_image"
UNREADABLE_FILE = "unreadable_images.txt"
HEADER_BYTES = 8  # bytes read to check an image's signature

@dataclasses.dataclass
class Sample:
    """One text-image pair of a split file."""

    tweet_id: str
    image_id: str
    image: str  # path relative to the dataset root, e.g. data_image/<event>/<date>/<id>.jpg
    label: str
    text: str
    line: int  # line number in its split file (1 = header)


def official_split_filename(task: str, split: str) -> str:
    """``task_<task>_text_img_<split>.tsv``: an official benchmark split file (split: train/dev/test)."""
    return f"task_{task}_text_img_{split}.tsv"


def prepared_split_filename(task: str, split: str) -> str:
    """``<task>_<split>.tsv``: a prepared split file (split: train/dev/test)."""
    return f"{task}_{split}.tsv"


def check_task(task: Optional[str]) -> str:
    """Returns ``task`` if it is a CrisisMMD task; raises `ConfigError` naming ``data.task``."""
    if task not in TASK_CLASSES:
        raise ConfigError(
            f"config key 'data.task' must be one of {', '.join(TASK_CLASSES)} for data.name "
            f"'crisismmd', got {task!r}"
        )
    return task


def _bad_sample(message: str, on_bad_sample: str, skipped: list) -> None:
    """Raises ``message`` (``on_bad_sample: error``) or records it as a skipped sample."""
    if on_bad_sample == "error":
        raise ValueError(f"{message}; fix or remove it, or set data.on_bad_sample: skip to skip such samples")
    skipped.append(message)


def read_split_file(
    path: str,
    columns: tuple,
    class_names: list,
    on_bad_sample: str = "error",
    skipped: Optional[list] = None,
) -> list[Sample]:
    """Parses a split TSV (official or prepared) into samples, checking every line.

    The first line must be the header ``columns``; every other non-blank line must
    have exactly ``len(columns)`` tab-separated fields and a ``label`` in
    ``class_names``.

    Args:
        path: the TSV file.
        columns: its expected columns (`OFFICIAL_COLUMNS` or `PREPARED_COLUMNS`).
        class_names: the task's labels.
        on_bad_sample: ``error`` raises on the first bad line; ``skip`` leaves it
            out and appends its description to ``skipped``.
        skipped: list collecting the skipped lines' descriptions.

    Returns:
        The samples, in file order.

    Raises:
        ConfigError: if the file does not exist.
        ValueError: naming the file and line, for a wrong header, or (with
            ``on_bad_sample: error``) a line with the wrong number of fields or
            an unknown label.
    """
    skipped = [] if skipped is None else skipped
    if not os.path.isfile(path):
        raise ConfigError(f"CrisisMMD split file not found: {path}")
    with open(path, encoding="utf-8", errors="replace", newline="") as handle:
        lines = handle.read().split("\n")
    header = lines[0].rstrip("\r").split("\t") if lines else []
    if tuple(header) != tuple(columns):
        raise ValueError(
            f"{path}:1: header must be the {len(columns)} tab-separated columns "
            f"{', '.join(columns)}; got {header}"
        )
    label_index, samples = columns.index("label"), []
    for number, line in enumerate(lines[1:], start=2):
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) != len(columns):
            _bad_sample(
                f"{path}:{number}: expected {len(columns)} tab-separated fields, got {len(fields)}",
                on_bad_sample,
                skipped,
            )
            continue
        label = fields[label_index]
        if label not in class_names:
            _bad_sample(
                f"{path}:{number}: label {label!r} is not one of the classes {', '.join(class_names)}",
                on_bad_sample,
                skipped,
            )
            continue
        row = dict(zip(columns, fields))
        samples.append(
            Sample(row["tweet_id"], row["image_id"], row["image"], label, row["tweet_text"], number)
        )
    return samples


def check_split_size(task: str, split: str, count: int, path: str) -> Optional[str]:
    """Compares a split's size with the official benchmark; warns and returns the message if it differs.

    Args:
        task: ``informative`` or ``humanitarian``.
        split: the official split name (train/dev/test).
        count: samples found.
        path: the split file, named in the message.

    Returns:
        The warning text, or None when the sizes agree.
    """
    official = OFFICIAL_SPLIT_SIZES[task][split]
    if count == official:
        return None
    kind = "a subset of" if count < official else "more than"
    message = (
        f"CrisisMMD {task} {split}: {count} samples in {path}, {kind} the {official} of the "
        "official benchmark split; results are not comparable with the paper's"
    )
    warnings.warn(message, DatasetWarning, stacklevel=2)
    return message


def check_images(root: str, samples: list, on_bad_sample: str, skipped: list) -> list:
    """Keeps the samples whose image exists, is non-empty and starts like an image.

    Reads only the first bytes of each file; full decoding happens lazily in the
    pipeline (preparation already decoded every image once).

    Raises:
        ValueError: with ``on_bad_sample: error``, naming the image and the split
            file line that refers to it.
    """
    kept = []
    for sample in samples:
        path = os.path.join(root, sample.image)
        problem = None
        if not os.path.isfile(path):
            problem = "image file not found"
        elif os.path.getsize(path) == 0:
            problem = "image file is empty"
        else:
            with open(path, "rb") as handle:
                if not has_image_signature(handle.read(HEADER_BYTES)):
                    problem = "image file is not a JPEG/PNG/GIF/BMP image"
        if problem is None:
            kept.append(sample)
        else:
            _bad_sample(f"{path} (line {sample.line} of its split file): {problem}", on_bad_sample, skipped)
    return kept


def check_modality(key: str, view: str) -> None:
    """Raises `ConfigError` naming ``key`` unless ``view`` is ``text`` or ``image``."""
    if view not in MODALITIES:
        raise ConfigError(
            f"config key '{key}' must be one of {', '.join(MODALITIES)} for data.name "
            f"'crisismmd', got {view!r}"
        )


def load_split(root: str, task: str, split: str, on_bad_sample: str) -> list:
    """Reads and checks one prepared split (our split name), warning about skips and size."""
    path = os.path.join(root, prepared_split_filename(task, SPLIT_NAMES[split]))
    if not os.path.isfile(path):
        raise ConfigError(
            f"CrisisMMD split file not found: {path} (config key 'data.root' = {root!r}); "
            "run tools/prepare_crisismmd.py --src <official release> --out <data.root> first"
        )
    skipped = []
    samples = read_split_file(path, PREPARED_COLUMNS, TASK_CLASSES[task], on_bad_sample, skipped)
    samples = check_images(root, samples, on_bad_sample, skipped)
    if skipped:
        shown = "; ".join(skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
        warnings.warn(
            f"CrisisMMD {task} {SPLIT_NAMES[split]}: skipped {len(skipped)} bad samples "
            f"(data.on_bad_sample: skip): {shown}",
            DatasetWarning,
            stacklevel=2,
        )
    if not samples:
        raise ValueError(f"CrisisMMD split file {path} holds no usable sample")
    check_split_size(task, SPLIT_NAMES[split], len(samples), path)
    return samples
