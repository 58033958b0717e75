"""CrisisMMD v2.0 (Alam, Ofli and Imran, 2018): tweet text paired with its image.

The paper distils between a BERT-base text model and a MobileNetV2 image model on
CrisisMMD. We use the official benchmark splits of the release
(``crisismmd_datasplit_all/task_<task>_text_img_{train,dev,test}.tsv``, Ofli, Alam
and Imran, 2020), whose text-image pairs carry one label agreed by both
modalities, for two tasks:

- ``informative``: informative / not_informative (9,601 / 1,573 / 1,534 pairs);
- ``humanitarian``: the five classes of that benchmark (6,126 / 998 / 955 pairs).

The official ``dev`` split is our validation split (``data.val_fraction`` and
``data.test_fraction`` do not apply).

Two steps:

1. `prepare_crisismmd` (``tools/prepare_crisismmd.py --src RAW --out DATA``) reads the
   official release (``CrisisMMD_v2.0/data_image/<event>/<date>/<id>.jpg`` and the
   split TSVs), checks that every image decodes, copies it (re-encoded as JPEG when
   it is stored in another format) to ``DATA/data_image/...``, and writes
   ``DATA/<task>_<split>.tsv`` plus a report of what it could not read.
2. `build_crisismmd` (``data.name: crisismmd``, ``data.root: DATA``) reads those
   files: the tweet texts are tokenized once, up front (they are small); the images
   are decoded lazily by a parallel `tf.data` map with prefetch, so no image is
   held in memory beyond the batches in flight.

Views: ``text`` (``(max_length,)`` int32 BERT token ids, `fdkd_tf.data.text`) and
``image`` (``(image_size, image_size, 3)`` float32, `fdkd_tf.data.images`).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import os
import re
import shutil
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.determinism import with_determinism
from fdkd_tf.data.images import decode_rgb, eval_transform, has_image_signature, train_transform
from fdkd_tf.data.registry import register_dataset
from fdkd_tf.data.sample_store import files_fingerprint
from fdkd_tf.data.text import encode_texts, load_tokenizer
from fdkd_tf.models.bert import RANDOM_INIT_VOCABULARY_SIZE

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
RELEASE_DIR = "CrisisMMD_v2.0"
SPLIT_DIR = "crisismmd_datasplit_all"
IMAGE_DIR = "data_image"
REPORT_FILE = "prepare_report.json"
UNREADABLE_FILE = "unreadable_images.txt"
JPEG_QUALITY = 95
HEADER_BYTES = 8  # bytes read to check an image's signature


class DatasetWarning(UserWarning):
    """The data differ from the official release (a subset, skipped samples)."""


@dataclasses.dataclass
class Sample:
    """One text-image pair of a split file."""

    tweet_id: str
    image_id: str
    image: str  # path relative to the dataset root, e.g. data_image/<event>/<date>/<id>.jpg
    label: str
    text: str
    line: int  # line number in its split file (1 = header)


# --------------------------------------------------------------------------- split files


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


# --------------------------------------------------------------------------- preparation


def _first_dir_with(candidates: list, relative: str) -> Optional[str]:
    for candidate in candidates:
        if os.path.exists(os.path.join(candidate, relative)):
            return candidate
    return None


def locate_release(src: str, task: str) -> tuple[str, str]:
    """Finds the release root (holding ``data_image/``) and the split directory under ``src``.

    Accepts ``src`` being the directory that holds ``CrisisMMD_v2.0/`` and
    ``crisismmd_datasplit_all/``, or ``CrisisMMD_v2.0/`` itself; the split archive
    may unpack into a doubled ``crisismmd_datasplit_all/crisismmd_datasplit_all/``.

    Returns:
        ``(release_root, split_dir)``.

    Raises:
        ConfigError: naming what is missing and the layout expected.
    """
    if not os.path.isdir(src):
        raise ConfigError(f"CrisisMMD source directory not found: {src}")
    roots = [os.path.join(src, RELEASE_DIR), src]
    release_root = _first_dir_with(roots, IMAGE_DIR)
    if release_root is None:
        raise ConfigError(
            f"no {IMAGE_DIR}/ found in {src} or {os.path.join(src, RELEASE_DIR)}; --src must hold the "
            f"official release ({RELEASE_DIR}/{IMAGE_DIR}/<event>/<date>/<id>.jpg)"
        )
    split_candidates = []
    for base in (src, release_root):
        split_candidates += [base, os.path.join(base, SPLIT_DIR), os.path.join(base, SPLIT_DIR, SPLIT_DIR)]
    first_file = official_split_filename(task, "train")
    split_dir = _first_dir_with(split_candidates, first_file)
    if split_dir is None:
        raise ConfigError(
            f"CrisisMMD split file {first_file} not found under {src}; unpack the benchmark splits "
            f"so that {SPLIT_DIR}/{first_file} (and its dev and test files) lie in --src"
        )
    return release_root, split_dir


def _clean_text(text: str) -> str:
    """Tabs and line breaks -> spaces, so a text stays one TSV field."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def prepare_image(source: str, target: str) -> Optional[str]:
    """Checks that ``source`` decodes and writes it to ``target`` as JPEG (atomically).

    A JPEG file is copied byte for byte; other formats (PNG, GIF, BMP saved with a
    ``.jpg`` name) are re-encoded. An existing ``target`` is a finished image and
    is left alone (preparation resumes where it stopped).

    Returns:
        None on success, else why the image cannot be used.
    """
    from fdkd_tf.files import atomic_path

    if os.path.exists(target):
        return None
    if not os.path.isfile(source):
        return "missing"
    if os.path.getsize(source) == 0:
        return "empty file"
    with open(source, "rb") as handle:
        encoded = handle.read()
    if not has_image_signature(encoded[:HEADER_BYTES]):
        return "not a JPEG/PNG/GIF/BMP image"
    try:
        image = decode_rgb(encoded)
        if int(tf.size(image)) == 0:
            return "decodes to an empty image"
    except (tf.errors.InvalidArgumentError, tf.errors.OpError) as error:
        reason = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", error.message.splitlines()[0]).strip()
        return f"cannot be decoded ({reason})"
    with atomic_path(target) as temporary:
        if encoded.startswith(b"\xff\xd8\xff"):
            shutil.copyfile(source, temporary)
        else:
            tf.io.write_file(temporary, tf.io.encode_jpeg(image, quality=JPEG_QUALITY))
    return None


def prepare_crisismmd(
    src: str,
    out: str,
    tasks: tuple = tuple(TASK_CLASSES),
    on_bad_sample: str = "error",
    progress: bool = True,
    workers: Optional[int] = None,
) -> dict:
    """Turns the official CrisisMMD v2.0 release into what `build_crisismmd` reads.

    For each task and split, the official TSV is parsed and checked line by line
    (`read_split_file`); every referenced image is checked and copied to
    ``out/data_image/...`` (`prepare_image`), in parallel, with a progress bar.
    Pairs whose image is missing, empty or undecodable are left out of the
    prepared split, listed by name in ``out/unreadable_images.txt`` and counted in
    ``out/prepare_report.json``. Rerunning skips images already written.

    Args:
        src: the raw release (see `locate_release`).
        out: the prepared dataset directory (``data.root``).
        tasks: tasks to prepare.
        on_bad_sample: ``error`` stops at a malformed split line (wrong number of
            fields, unknown label); ``skip`` leaves it out and counts it.
        progress: show a progress bar.
        workers: image threads (default: the CPU count).

    Returns:
        The report: per task and split the lines read, pairs written and the
        official size; the unreadable images with reasons; the skipped lines.

    Raises:
        ConfigError: if ``src`` lacks the release or a split file.
        ValueError: for a malformed split line with ``on_bad_sample: error``.

    Example:
        >>> report = prepare_crisismmd("raw", "data/crisismmd", progress=False)
        >>> report["tasks"]["informative"]["train"]["written"]
        9601
    """
    from fdkd_tf.files import write_json, write_text

    parsed, skipped_lines = {}, []
    for task in tasks:
        check_task(task)
        release_root, split_dir = locate_release(src, task)
        for split in OFFICIAL_SPLITS:
            path = os.path.join(split_dir, official_split_filename(task, split))
            parsed[task, split] = read_split_file(
                path, OFFICIAL_COLUMNS, TASK_CLASSES[task], on_bad_sample, skipped_lines
            )
    images = sorted({sample.image for samples in parsed.values() for sample in samples})
    os.makedirs(out, exist_ok=True)
    unreadable = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        futures = {
            pool.submit(prepare_image, os.path.join(release_root, image), os.path.join(out, image)): image
            for image in images
        }
        done = concurrent.futures.as_completed(futures)
        if progress:
            from tqdm import tqdm

            done = tqdm(done, total=len(futures), desc="CrisisMMD images", unit="img")
        for future in done:
            problem = future.result()
            if problem is not None:
                unreadable[futures[future]] = problem

    report = {"source": os.path.abspath(src), "tasks": {}, "skipped_lines": skipped_lines}
    for (task, split), samples in parsed.items():
        kept = [sample for sample in samples if sample.image not in unreadable]
        rows = ["\t".join(PREPARED_COLUMNS)] + [
            "\t".join((s.tweet_id, s.image_id, s.image, s.label, _clean_text(s.text))) for s in kept
        ]
        write_text(os.path.join(out, prepared_split_filename(task, split)), "\n".join(rows) + "\n")
        report["tasks"].setdefault(task, {})[split] = {
            "lines": len(samples),
            "written": len(kept),
            "unreadable_images": len(samples) - len(kept),
            "official": OFFICIAL_SPLIT_SIZES[task][split],
        }
    report["unreadable_images"] = dict(sorted(unreadable.items()))
    report["num_unreadable_images"] = len(unreadable)
    report["num_skipped_lines"] = len(skipped_lines)
    write_text(
        os.path.join(out, UNREADABLE_FILE),
        "".join(f"{image}\t{reason}\n" for image, reason in report["unreadable_images"].items()),
    )
    write_json(os.path.join(out, REPORT_FILE), report)
    return report


# --------------------------------------------------------------------------- loading


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


def _augmentation_seeds(seed: int) -> tf.data.Dataset:
    """Endless ``(2, 2)`` int64 stateless seeds (crop, flip), new ones every epoch."""
    values = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
    return values.batch(4, drop_remainder=True).map(lambda batch: tf.reshape(batch, (2, 2)))



def make_pipeline(
    root: str,
    samples: list,
    token_ids: np.ndarray,
    labels: np.ndarray,
    modalities: dict,
    image_size: int,
    training: bool,
    seed: int,
    shuffle_buffer: int = 2048,
    batch_size: Optional[int] = None,
    deterministic: bool = False,
    keys: tuple = ("teacher", "student"),
    with_index: bool = False,
) -> tf.data.Dataset:
    """The paired ``({"teacher", "student"}, label)`` pipeline of one split.

    Args:
        root: the prepared dataset directory.
        samples: the split's samples (their image paths).
        token_ids: int32 ``(n, max_length)`` token ids of the texts.
        labels: int32 ``(n,)`` class indices.
        modalities: ``{"teacher": "text"|"image", "student": ...}``.
        image_size: output height and width of the images.
        training: shuffle (reshuffled each epoch) and augment; else fixed order,
            resize only.
        seed: seeds the shuffle and the augmentation.
        shuffle_buffer: shuffle buffer size (capped at the split size).
        batch_size: batch size, or None for unbatched elements.
        deterministic: keep the element order fixed despite the parallel map.
        keys: the modality keys to load (an image not asked for is not decoded).
        with_index: add ``"index"``, each sample's int64 position in ``samples``.

    Returns:
        The `tf.data.Dataset`, prefetched.
    """
    paths = [os.path.join(root, sample.image) for sample in samples]
    positions = np.arange(len(samples), dtype=np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((paths, token_ids, labels, positions))
    if training:
        dataset = dataset.shuffle(
            min(shuffle_buffer, max(len(samples), 1)), seed=seed, reshuffle_each_iteration=True
        )
        dataset = tf.data.Dataset.zip((dataset, _augmentation_seeds(seed)))

    def load(path, tokens, label, position, augmentation_seed=None):
        inputs = {}
        for key in keys:
            if modalities[key] == "text":
                inputs[key] = tokens
                continue
            image = decode_rgb(tf.io.read_file(path))  # (h, w, 3) uint8
            if training:
                image = train_transform(image, image_size, augmentation_seed)
            else:
                image = eval_transform(image, image_size)
            inputs[key] = image
        if with_index:
            inputs["index"] = position
        return inputs, label

    if training:
        dataset = dataset.map(lambda element, seeds: load(*element, seeds), num_parallel_calls=tf.data.AUTOTUNE)
    else:
        dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE)
    if batch_size is not None:
        dataset = dataset.batch(batch_size)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic)


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


@register_dataset("crisismmd")
def build_crisismmd(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Builds the CrisisMMD text/image pipelines for ``data.task`` (official splits).

    Args:
        data_cfg: the ``data`` section: ``root`` (prepared directory), ``task``
            (informative | humanitarian), ``teacher``/``student`` (text | image),
            ``vocabulary`` (BERT vocab file or local preset directory),
            ``max_length``, ``image_size``, ``batch_size``, ``shuffle_buffer``,
            ``on_bad_sample``.
        seed: experiment seed; orders the training shuffle and augmentation.
        deterministic: fixed element order (``tf.data.Options.deterministic``).

    Returns:
        A `DatasetBundle` whose inputs are int32 token ids for ``text`` and
        float32 images for ``image``.

    Raises:
        ConfigError: for a bad key, a missing root or split file, or a bad
            vocabulary.
        ValueError: naming the file and line of a malformed sample
            (``on_bad_sample: error``).

    Example:
        >>> cfg = DataConfig(name="crisismmd", root="data/crisismmd", task="informative",
        ...                  teacher="image", student="text", vocabulary="vocab.txt")
        >>> build_crisismmd(cfg, seed=0).class_names
        ['informative', 'not_informative']
    """
    task = check_task(data_cfg.task)
    check_modality("data.teacher", data_cfg.teacher)
    check_modality("data.student", data_cfg.student)
    modalities = {"teacher": data_cfg.teacher, "student": data_cfg.student}
    root = data_cfg.root
    if root is None or not os.path.isdir(root):
        raise ConfigError(
            f"config key 'data.root' must be the prepared CrisisMMD directory, got {root!r} "
            "(not a directory); create it with tools/prepare_crisismmd.py --src <release> --out <dir>"
        )
    tokenizer = load_tokenizer(data_cfg.vocabulary)
    if tokenizer.vocabulary_size() > RANDOM_INIT_VOCABULARY_SIZE:
        warnings.warn(
            f"data.vocabulary {data_cfg.vocabulary} has {tokenizer.vocabulary_size()} tokens, more than "
            f"the {RANDOM_INIT_VOCABULARY_SIZE} token embeddings of a randomly initialised BERT; the text "
            "model needs a preset (model.<side>.preset) built for this vocabulary",
            DatasetWarning,
            stacklevel=2,
        )
    class_index = {name: index for index, name in enumerate(TASK_CLASSES[task])}

    pipelines, ordered, indexed, sizes, image_files = {}, {}, {}, {}, []
    for split in SPLIT_NAMES:
        samples = load_split(root, task, split, data_cfg.on_bad_sample)
        token_ids = encode_texts(tokenizer, [sample.text for sample in samples], data_cfg.max_length)
        labels = np.array([class_index[sample.label] for sample in samples], dtype=np.int32)
        common = dict(
            root=root,
            samples=samples,
            token_ids=token_ids,
            labels=labels,
            modalities=modalities,
            image_size=data_cfg.image_size,
            seed=int(seed) % (2**31 - 1),
        )
        training = split == "train"
        pipelines[split] = make_pipeline(
            **common,
            training=training,
            shuffle_buffer=data_cfg.shuffle_buffer,
            batch_size=data_cfg.batch_size,
            deterministic=deterministic,
        )
        ordered[split] = make_pipeline(**common, training=False, deterministic=True)
        indexed[split] = functools.partial(
            _indexed_pipeline, common, training, data_cfg.shuffle_buffer, data_cfg.batch_size, deterministic
        )
        sizes[split] = len(samples)
        image_files += [os.path.join(root, sample.image) for sample in samples]

    shapes = {"text": (data_cfg.max_length,), "image": (data_cfg.image_size, data_cfg.image_size, 3)}
    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=len(class_index),
        class_names=list(TASK_CLASSES[task]),
        input_shapes={key: shapes[view] for key, view in modalities.items()},
        modalities=modalities,
        sizes=sizes,
        ordered=ordered,
        indexed=indexed,
        # Token ids are computed above, once; training images are randomly cropped and flipped.
        deterministic_train_views={key: view == "text" for key, view in modalities.items()},
        precomputed_views=tuple(key for key, view in modalities.items() if view == "text"),
        fingerprint=files_fingerprint(image_files + [str(data_cfg.vocabulary)]),
    )


def _indexed_pipeline(common, training, shuffle_buffer, batch_size, deterministic, keys):
    """`DatasetBundle.indexed` of one split: the split's pipeline for ``keys`` with indices."""
    return make_pipeline(
        **common, training=training, shuffle_buffer=shuffle_buffer, batch_size=batch_size,
        deterministic=deterministic, keys=tuple(keys), with_index=True,
    )
