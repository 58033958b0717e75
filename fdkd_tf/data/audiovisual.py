"""Shared loader of the prepared audio-visual datasets (AVE, CREMA-D, VGGSound-50).

Each dataset module describes its official release (`AVDatasetSpec`: class list,
split sizes, sample rate, front end, frames per clip) and registers it with
`register_av_dataset`, which builds it with `build_av_bundle`.
Preparation (``tools/prepare_<dataset>.py``) turns every release into one layout,
which is what this module reads::

    DATA_DIR/
      classes.txt              one class name per line; line i is class index i
      index.tsv                <clip> TAB <number of frames>, one line per prepared clip
      train.tsv  test.tsv      <clip> TAB <class name>   (val.tsv too where the release has one)
      audio/<clip>.wav         mono 16-bit PCM at the dataset's reference rate
      frames/<clip>/0000.jpg   one JPEG per second of video (0001.jpg, ...)
      prepare_report.json      what preparation did and which clips failed

Views: ``audio`` (log spectrogram ``(F, T, 1)``) and ``visual`` (frames
``(H, W, 3)``, or ``(T, H, W, 3)`` for more than one frame); either can be the
teacher or the student. The pipeline holds only the clip table (names, labels,
frame counts) in memory; wavs and JPEGs are read and decoded in parallel `tf.data`
maps, batched and prefetched.

Bad input: a line with the wrong number of fields, a label outside
``classes.txt``, or a clip whose wav or frames are missing, unreadable or empty is
an error naming the file and the line, or, with ``data.on_bad_sample: skip``, a
skipped sample that is counted and reported in a `DatasetWarning`. Class lists and
split sizes that differ from the official release are reported in a
`DatasetWarning` too (expected for subsets and test fixtures).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import warnings
from typing import Optional

import numpy as np
import tensorflow as tf

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.audio import BadClipError, center_crop, check_wav, decode_wav, random_crop, tile_waveform
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.determinism import shuffled_with_seeds, with_determinism
from fdkd_tf.data.errors import DataFormatError, DatasetWarning
from fdkd_tf.data.frames import load_frames
from fdkd_tf.data.registry import AudioFrontendSpec, DatasetBuilder, register_dataset
from fdkd_tf.data.sample_store import files_fingerprint
from fdkd_tf.files import write_text
from fdkd_tf.layers.audio_frontend import (
    REFERENCE_NUM_SAMPLES,
    VGGSOUND_NUM_SAMPLES,
    reference_spectrogram,
    spectrogram_shape,
    vggsound_spectrogram,
)

MODALITIES = ("audio", "visual")
CLASSES_FILE = "classes.txt"
INDEX_FILE = "index.tsv"
SPLIT_FIELDS = 2  # clip, class name


@dataclasses.dataclass(frozen=True)
class AVDatasetSpec:
    """What the official release of an audio-visual dataset looks like.

    Attributes:
        name: ``data.name``.
        class_names: the official classes in index order, or empty when the release
            fixes only their number (VGGSound-50's subset is defined by its CSV).
        num_classes: the official number of classes.
        split_sizes: official samples per split file, e.g. ``{"train": 6698, "test": 744}``.
        sample_rate: reference audio rate in Hz.
        audio_kind: ``"reference"`` (tile to 160,000, PSD) or ``"vggsound"``
            (tile to 2 crops, 5 s crop, log-magnitude STFT).
        num_frames: frames per clip (``data.num_frames: null``).
        prepare_tool: the tool that writes the prepared layout.
    """

    name: str
    class_names: tuple
    num_classes: int
    split_sizes: dict
    sample_rate: int
    audio_kind: str
    num_frames: int
    prepare_tool: str

    @property
    def has_val_split(self) -> bool:
        return "val" in self.split_sizes


@dataclasses.dataclass
class Clip:
    """One row of a split file that passed the checks."""

    name: str
    label: int
    num_frames: int


def _bad(message: str, on_bad: str, skipped: list) -> None:
    """Raises `DataFormatError` (``on_bad == 'error'``) or records a skip."""
    if on_bad == "error":
        raise DataFormatError(f"{message}; fix it or set data.on_bad_sample: skip")
    skipped.append(message)


def read_lines(path: str, what: str) -> list[tuple[int, str]]:
    """Non-empty lines of a text file with their 1-based numbers.

    Raises:
        DataFormatError: naming ``path`` when it does not exist.
    """
    if not os.path.isfile(path):
        raise DataFormatError(f"{what} not found: {path}")
    with open(path, encoding="utf-8") as handle:
        return [(number, line.rstrip("\r\n")) for number, line in enumerate(handle, 1) if line.strip()]


def read_tsv(path: str, num_fields: int, what: str, on_bad: str, skipped: list) -> list[tuple[int, list[str]]]:
    """Tab-separated rows with exactly ``num_fields`` fields; bad lines error or skip."""
    rows = []
    for number, line in read_lines(path, what):
        fields = line.split("\t")
        if len(fields) != num_fields:
            _bad(f"{path}, line {number}: expected {num_fields} tab-separated fields, got {len(fields)}: {line!r}", on_bad, skipped)
            continue
        rows.append((number, fields))
    return rows


def read_classes(root: str) -> list[str]:
    """Class names of a prepared dataset (``classes.txt``), in index order."""
    names = [line.strip() for _, line in read_lines(os.path.join(root, CLASSES_FILE), "class list")]
    if len(set(names)) != len(names):
        raise DataFormatError(f"{os.path.join(root, CLASSES_FILE)} lists a class twice; rerun the preparation")
    return names


def read_index(root: str, on_bad: str, skipped: list) -> dict[str, int]:
    """``{clip: number of frames}`` from ``index.tsv``."""
    path = os.path.join(root, INDEX_FILE)
    index = {}
    for number, (clip, count) in read_tsv(path, 2, "clip index", on_bad, skipped):
        if not count.isdigit():
            _bad(f"{path}, line {number}: frame count must be a non-negative integer, got {count!r}", on_bad, skipped)
            continue
        index[clip] = int(count)
    return index


def check_against_release(spec: AVDatasetSpec, class_names: list[str], sizes: dict[str, int]) -> list[str]:
    """Differences between the prepared data and the official release, as sentences."""
    differences = []
    if spec.class_names and list(class_names) != list(spec.class_names):
        missing = [name for name in spec.class_names if name not in class_names]
        extra = [name for name in class_names if name not in spec.class_names]
        detail = f"missing {missing}" if missing else ""
        detail += ("; " if detail and extra else "") + (f"not official {extra}" if extra else "")
        if not detail:
            detail = "same names in another order (class indices differ from the reference)"
        differences.append(f"{len(class_names)} classes instead of the official {spec.num_classes} ({detail})")
    elif len(class_names) != spec.num_classes:
        differences.append(f"{len(class_names)} classes instead of the official {spec.num_classes}")
    for split, official in spec.split_sizes.items():
        if sizes.get(split) != official:
            differences.append(f"{split} split has {sizes.get(split, 0)} clips instead of the official {official}")
    return differences


def validation_split(labels: np.ndarray, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified train/val indices of a release without a validation split.

    Each class is shuffled on its own by one ``numpy.random.default_rng(seed)`` and
    ``round(n * val_fraction)`` of it (at least one, when the class has two or more
    clips) goes to validation: fixed by ``data.split_seed``, never by the experiment seed.

    Returns:
        ``(train_idx, val_idx)``: sorted int64 index arrays.
    """
    rng = np.random.default_rng(seed)
    train_parts, val_parts = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        num_val = int(round(len(members) * val_fraction))
        num_val = min(max(num_val, 1 if len(members) > 1 else 0), len(members) - 1)
        val_parts.append(members[:num_val])
        train_parts.append(members[num_val:])
    return (np.sort(np.concatenate(train_parts)).astype(np.int64), np.sort(np.concatenate(val_parts)).astype(np.int64))


def read_split(
    root: str, split: str, spec: AVDatasetSpec, class_index: dict, index: dict, on_bad: str, skipped: list
) -> tuple[list[Clip], int]:
    """Checked clips of one split file and the number of rows it holds."""
    path = os.path.join(root, f"{split}.tsv")
    if not os.path.isfile(path):
        raise DataFormatError(
            f"split file not found: {path}; prepare the release with {spec.prepare_tool} --src RAW_DIR --out {root}"
        )
    rows = read_tsv(path, SPLIT_FIELDS, f"{split} split", on_bad, skipped)
    clips = []
    for number, (name, label) in rows:
        where = f"{path}, line {number}"
        if label not in class_index:
            _bad(f"{where}: label {label!r} is not in {os.path.join(root, CLASSES_FILE)}", on_bad, skipped)
            continue
        if name not in index:
            _bad(f"{where}: clip {name!r} is not in {os.path.join(root, INDEX_FILE)} (not prepared)", on_bad, skipped)
            continue
        try:
            check_wav(os.path.join(root, "audio", f"{name}.wav"), spec.sample_rate)
        except BadClipError as error:
            _bad(f"{where}: clip {name!r}: {error}", on_bad, skipped)
            continue
        frames_dir = os.path.join(root, "frames", name)
        first_frame = os.path.join(frames_dir, "0000.jpg")
        if index[name] < 1 or not os.path.isfile(first_frame) or os.path.getsize(first_frame) == 0:
            _bad(f"{where}: clip {name!r} has no frames in {frames_dir}", on_bad, skipped)
            continue
        clips.append(Clip(name, class_index[label], index[name]))
    return clips, len(rows)


def audio_length(spec: AVDatasetSpec, data_cfg: DataConfig) -> int:
    """Samples the spectrogram sees: tiled length (reference) or crop (vggsound)."""
    if data_cfg.audio_samples is not None:
        return data_cfg.audio_samples
    return REFERENCE_NUM_SAMPLES if spec.audio_kind == "reference" else VGGSOUND_NUM_SAMPLES


def audio_view(path, spec: AVDatasetSpec, num_samples: int, training: bool, seed):
    """Decoded wav -> ``(F, T, 1)`` log spectrogram, as the dataset's reference pipeline.

    ``reference``: tile to ``num_samples`` (160,000) then `reference_spectrogram`.
    ``vggsound``: tile to at least two crops (10 s), take a random ``num_samples``
    (5 s) crop in training and the centred one at test, then `vggsound_spectrogram`.
    """
    waveform = decode_wav(path, spec.sample_rate)  # (samples,)
    if spec.audio_kind == "reference":
        spectrogram = reference_spectrogram(waveform, spec.sample_rate, num_samples)
    else:
        waveform = tile_waveform(waveform, 2 * num_samples)
        crop = random_crop(waveform, num_samples, seed) if training else center_crop(waveform, num_samples)
        spectrogram = vggsound_spectrogram(crop)
    spectrogram = spectrogram[..., None]
    spectrogram.set_shape(spectrogram_shape(spec.audio_kind, num_samples))
    return spectrogram


def make_av_pipeline(
    root: str,
    clips: list[Clip],
    spec: AVDatasetSpec,
    data_cfg: DataConfig,
    modalities: dict,
    training: bool,
    seed: Optional[int],
    deterministic: bool,
    batch: bool = True,
    keys: tuple = ("teacher", "student"),
    with_index: bool = False,
    epoch: Optional[int] = None,
) -> tf.data.Dataset:
    """Clip table -> ``({"teacher", "student"}, label)`` `tf.data` pipeline.

    Args:
        root: prepared data directory.
        clips: the split's checked clips.
        spec: the dataset's `AVDatasetSpec`.
        data_cfg: ``data`` config (batch size, shuffle buffer, frames, image size).
        modalities: ``{"teacher": "audio"|"visual", "student": ...}``.
        training: shuffle (reshuffled each epoch) and augment.
        seed: seed of the shuffle and the augmentation (training only).
        deterministic: keep the element order of parallel maps reproducible.
        batch: batch and prefetch (False: one element at a time, unshuffled use).
        keys: the modality keys to load (the others are neither read nor decoded);
            the shuffle and the augmentation seeds do not depend on them.
        with_index: add ``"index"``, each clip's int64 position in ``clips``.
        epoch: training only: that epoch's order and augmentation, fixed by
            ``(seed, epoch)`` (`fdkd_tf.data.determinism.training_order`); None
            reshuffles at every pass.

    Returns:
        The `tf.data.Dataset`.
    """
    num_frames = data_cfg.num_frames or spec.num_frames
    num_samples = audio_length(spec, data_cfg)
    audio_paths = [os.path.join(root, "audio", f"{clip.name}.wav") for clip in clips]
    frame_dirs = [os.path.join(root, "frames", clip.name) for clip in clips]
    table = tf.data.Dataset.from_tensor_slices(
        (
            tf.constant(audio_paths, tf.string, shape=[len(clips)]),
            tf.constant(frame_dirs, tf.string, shape=[len(clips)]),
            tf.constant([clip.num_frames for clip in clips], tf.int32, shape=[len(clips)]),
            tf.constant([clip.label for clip in clips], tf.int32, shape=[len(clips)]),
            tf.range(len(clips), dtype=tf.int64),
        )
    )
    dataset = shuffled_with_seeds(table, data_cfg.shuffle_buffer, seed, epoch, training)

    def load(row, element_seed):
        audio_path, frames_dir, available, label, position = row
        seeds_2d = tf.stack([tf.stack([element_seed, tf.constant(i, tf.int64)]) for i in range(4)])  # (4, 2)
        inputs = {}
        for key in keys:
            if modalities[key] == "audio":
                inputs[key] = audio_view(audio_path, spec, num_samples, training, seeds_2d[0])
            else:
                frames = load_frames(frames_dir, available, num_frames, data_cfg.image_size, training, seeds_2d[1:])
                inputs[key] = frames[0] if num_frames == 1 else frames  # (H, W, 3) for one frame
        if with_index:
            inputs["index"] = position
        return inputs, label

    dataset = dataset.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=deterministic or not training)
    if data_cfg.on_bad_sample == "skip":
        dataset = dataset.ignore_errors(log_warning=True)  # a clip that passed the checks but fails to decode
    if batch:
        dataset = dataset.batch(data_cfg.batch_size).prefetch(tf.data.AUTOTUNE)
    return with_determinism(dataset, deterministic or not training)


def check_modalities(data_cfg: DataConfig) -> dict:
    """``{"teacher": view, "student": view}``; each must be audio or visual."""
    for key in ("teacher", "student"):
        view = getattr(data_cfg, key)
        if view not in MODALITIES:
            raise ConfigError(
                f"config key 'data.{key}' must be one of {', '.join(MODALITIES)} for data.name "
                f"{data_cfg.name!r}, got {view!r}"
            )
    return {"teacher": data_cfg.teacher, "student": data_cfg.student}


def build_av_bundle(spec: AVDatasetSpec, data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Checks a prepared audio-visual dataset and builds its three pipelines.

    Args:
        spec: the official release's description.
        data_cfg: the ``data`` section (``root`` = the prepared directory).
        seed: experiment seed (shuffle and augmentation order only).
        deterministic: reproducible element order in every pipeline.

    Returns:
        A `DatasetBundle` with ``ordered`` test-mode pipelines of every split.

    Raises:
        ConfigError: for a missing ``data.root`` or a view that is not audio/visual.
        DataFormatError: naming the file and line of a bad row or clip
            (``data.on_bad_sample: error``), or a missing split/index/class file.
    """
    modalities = check_modalities(data_cfg)
    root = data_cfg.root
    if root is None or not os.path.isdir(root):
        raise ConfigError(
            f"config key 'data.root' must be the directory {spec.prepare_tool} wrote for "
            f"data.name {spec.name!r}, got {root!r} (not a directory); run "
            f"python {spec.prepare_tool} --src RAW_DIR --out DATA_DIR and set data.root: DATA_DIR"
        )
    skipped: list[str] = []
    class_names = read_classes(root)
    class_index = {name: index for index, name in enumerate(class_names)}
    index = read_index(root, data_cfg.on_bad_sample, skipped)
    splits, file_sizes = {}, {}
    for split in ("train", "val", "test") if spec.has_val_split else ("train", "test"):
        splits[split], file_sizes[split] = read_split(root, split, spec, class_index, index, data_cfg.on_bad_sample, skipped)
    differences = check_against_release(spec, class_names, file_sizes)
    if differences:
        warnings.warn(
            f"{spec.name} data in {root} differ from the official release: " + "; ".join(differences),
            DatasetWarning,
            stacklevel=2,
        )
    if skipped:
        shown = "; ".join(skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
        warnings.warn(f"{spec.name}: skipped {len(skipped)} bad samples in {root} (data.on_bad_sample: skip): {shown}", DatasetWarning, stacklevel=2)
    if not spec.has_val_split:
        train_labels = np.array([clip.label for clip in splits["train"]], np.int64)
        train_idx, val_idx = validation_split(train_labels, data_cfg.val_fraction, data_cfg.split_seed)
        train = splits["train"]
        splits["train"], splits["val"] = [train[i] for i in train_idx], [train[i] for i in val_idx]
    for split in ("train", "val", "test"):
        if not splits[split]:
            raise DataFormatError(f"{spec.name}: the {split} split in {root} has no usable clip")

    pipelines, ordered, indexed = {}, {}, {}
    for split in ("train", "val", "test"):
        training = split == "train"
        pipelines[split] = make_av_pipeline(root, splits[split], spec, data_cfg, modalities, training, seed, deterministic)
        ordered[split] = make_av_pipeline(root, splits[split], spec, data_cfg, modalities, False, None, True, batch=False)
        indexed[split] = functools.partial(
            _indexed_pipeline, root, splits[split], spec, data_cfg, modalities, training, seed, deterministic
        )
    # The reference spectrogram has no random crop; frames and the VGGSound crop do.
    stable = {"audio": spec.audio_kind == "reference", "visual": False}
    clip_files = [
        path
        for clips in splits.values()
        for clip in clips
        for path in [os.path.join(root, "audio", f"{clip.name}.wav")]
        + [os.path.join(root, "frames", clip.name, f"{i:04d}.jpg") for i in range(clip.num_frames)]
    ]
    num_frames = data_cfg.num_frames or spec.num_frames
    image = (data_cfg.image_size, data_cfg.image_size, 3)
    shapes = {
        "audio": spectrogram_shape(spec.audio_kind, audio_length(spec, data_cfg)),
        "visual": image if num_frames == 1 else (num_frames, *image),
    }
    return DatasetBundle(
        train=pipelines["train"],
        val=pipelines["val"],
        test=pipelines["test"],
        num_classes=len(class_names),
        class_names=list(class_names),
        input_shapes={key: shapes[view] for key, view in modalities.items()},
        modalities=modalities,
        sizes={split: len(splits[split]) for split in ("train", "val", "test")},
        ordered=ordered,
        indexed=indexed,
        deterministic_train_views={key: stable[view] for key, view in modalities.items()},
        fingerprint=files_fingerprint([os.path.join(root, name) for name in (CLASSES_FILE, INDEX_FILE)] + clip_files),
    )


def _indexed_pipeline(root, clips, spec, data_cfg, modalities, training, seed, deterministic, keys, epoch=None):
    """`DatasetBundle.indexed` of one split: the split's pipeline for ``keys`` with indices."""
    return make_av_pipeline(
        root, clips, spec, data_cfg, modalities, training, seed, deterministic, keys=tuple(keys), with_index=True,
        epoch=epoch if training else None,
    )


def split_waveforms(spec: AVDatasetSpec, data_cfg: DataConfig, split: str, count: Optional[int] = None):
    """A prepared split file's clips as the evaluation view reads them, before the spectrogram.

    ``reference``: the wav tiled to the view's length; ``vggsound``: tiled to two crops
    and the centred crop taken. A front end fed these computes the test view exactly.

    Args:
        spec: the release.
        data_cfg: the run's ``data`` section (``root``, ``audio_samples``, ``on_bad_sample``).
        split: a split file of the prepared layout (``train``, ``val`` or ``test``).
        count: the first ``count`` clips, or None for all.

    Returns:
        ``(waveforms (n, samples) float32, labels (n,) int32)``.

    Raises:
        DataFormatError: when the prepared data or a clip cannot be read.
    """
    root = data_cfg.root
    class_index = {name: i for i, name in enumerate(read_classes(root))}
    skipped: list = []
    index = read_index(root, data_cfg.on_bad_sample, skipped)
    clips, _ = read_split(root, split, spec, class_index, index, data_cfg.on_bad_sample, skipped)
    clips = clips[:count] if count is not None else clips
    num_samples = audio_length(spec, data_cfg)
    waves = []
    for clip in clips:
        waveform = decode_wav(os.path.join(root, "audio", f"{clip.name}.wav"), spec.sample_rate)
        if spec.audio_kind == "reference":
            waves.append(tile_waveform(waveform, num_samples).numpy()[:num_samples])  # what reference_spectrogram reads
        else:
            waves.append(center_crop(tile_waveform(waveform, 2 * num_samples), num_samples).numpy())
    return np.asarray(waves, np.float32).reshape(len(clips), num_samples), np.array([clip.label for clip in clips], np.int32)


def register_av_dataset(spec: AVDatasetSpec) -> DatasetBuilder:
    """Registers ``spec.name`` (``data.name``): views audio and visual, built by
    `build_av_bundle`, with its audio front end and `write_av_fixture` as fixture.

    Returns:
        The registered builder ``(data_cfg, seed, deterministic) -> DatasetBundle``.
    """

    def build(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
        return build_av_bundle(spec, data_cfg, seed, deterministic)

    build.__name__ = build.__qualname__ = f"build_{spec.name}"
    build.__doc__ = f"{spec.name} pipelines of a prepared directory (``data.root``); views audio and visual."
    return register_dataset(
        spec.name,
        modalities=MODALITIES,
        audio_frontend=AudioFrontendSpec(spec.audio_kind, spec.sample_rate, waveforms=functools.partial(split_waveforms, spec)),
        fixture=functools.partial(write_av_fixture, spec),
    )(build)


def write_av_fixture(spec: AVDatasetSpec, root: str, num_classes: int = 3, clips_per_split: int = 3) -> dict:
    """Writes a miniature prepared dataset of ``spec``'s layout under ``root``.

    Each clip is a 1 s tone whose pitch and whose frames' colour follow its class
    (so both views carry the label), with two 32 x 32 frames. The class names are
    the first official ones (or ``class_<k>``); split sizes differ from the release,
    so loading it warns.

    Returns:
        The ``data`` keys that select it (small images and waveforms).
    """
    import tensorflow as tf

    from fdkd_tf.data.audio import write_wav

    names = list(spec.class_names[:num_classes]) or [f"class_{k}" for k in range(num_classes)]
    for sub in ("audio", "frames"):
        os.makedirs(os.path.join(root, sub), exist_ok=True)
    splits = ("train", "val", "test") if spec.has_val_split else ("train", "test")
    index, rng = [], np.random.default_rng(0)
    for split in splits:
        rows = []
        for number in range(clips_per_split * num_classes):
            label = number % num_classes
            clip = f"{split}_{number:03d}"
            time = np.arange(spec.sample_rate) / spec.sample_rate
            tone = 0.5 * np.sin(2 * np.pi * 220.0 * (label + 1) * time) + 0.01 * rng.standard_normal(time.size)
            write_wav(os.path.join(root, "audio", f"{clip}.wav"), tone, spec.sample_rate)
            frames = os.path.join(root, "frames", clip)
            os.makedirs(frames, exist_ok=True)
            for frame in range(2):
                image = np.full((32, 32, 3), 40 + 80 * label, np.uint8) + rng.integers(0, 20, (32, 32, 3), dtype=np.uint8)
                tf.io.write_file(os.path.join(frames, f"{frame:04d}.jpg"), tf.io.encode_jpeg(image))
            index.append(f"{clip}\t2\n")
            rows.append(f"{clip}\t{names[label]}\n")
        write_text(os.path.join(root, f"{split}.tsv"), "".join(rows))
    write_text(os.path.join(root, INDEX_FILE), "".join(index))
    write_text(os.path.join(root, CLASSES_FILE), "".join(f"{name}\n" for name in names))
    return {"name": spec.name, "root": root, "teacher": "visual", "student": "audio", "image_size": 32,
            "audio_samples": spec.sample_rate // 2, "num_frames": 1, "val_fraction": 0.34, "batch_size": 4}
