"""Spoken digits: an offline cross-modal task with an audio student (``data.name: spoken_digits``).

No audio benchmark can be downloaded here, so this task is generated: ``espeak-ng``
(Debian package ``espeak-ng``) says "zero" .. "nine" with 7 English accents, about
100 voice variants, random pitch and speed; each word is resampled to 16 kHz,
placed at a random offset in a 1 s clip and mixed with coloured noise at -5..15 dB
SNR. The voice variants are split between train, validation and test, so the test
speakers are never heard in training. The student view ``audio`` is the clip's log
spectrogram (the ``vggsound`` front end, `fdkd_tf.layers.AudioFrontend`: 129 x 126);
the teacher view ``pix`` is an mfeat digit image of the same digit and split
(class-paired: the two modalities share labels, not recordings).

``fdkd-prepare spoken_digits --out DIR`` (`prepare_spoken_digits`) writes
``DIR/spoken_digits.npz`` once (waveforms, spectrograms, labels, splits, the paired
mfeat rows and each clip's voice settings); training reads it with
``configs/spoken_digits.yaml``. Used by ``benchmarks/export_audio_resnet18.py`` and
``benchmarks/spoken_digits_methods.py`` (docs/results.md, docs/deployment.md).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from typing import Optional

import numpy as np
import tensorflow as tf
from scipy.io import wavfile
from scipy.signal import lfilter, resample_poly

from fdkd_tf.config import ConfigError, DataConfig
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.determinism import with_determinism
from fdkd_tf.data.errors import DataFormatError, MissingProgramError
from fdkd_tf.data.mfeat import indexed_pipeline, make_pipeline, pixels_to_images, read_view, shuffle_seed
from fdkd_tf.data.registry import AudioFrontendSpec, register_dataset
from fdkd_tf.data.sample_store import files_fingerprint
from fdkd_tf.data.splits import stratified_split
from fdkd_tf.files import atomic_path
from fdkd_tf.layers.audio_frontend import AudioFrontend

DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
ESPEAK_RATE, SAMPLE_RATE, CLIP_SAMPLES = 22_050, 16_000, 16_000
SNR_DB = (-5.0, 15.0)
SPLITS = ("train", "val", "test")
SPEAKER_SHARES = (0.6, 0.15, 0.25)  # voice variants per split
DEFAULT_CLIPS = {"train": 3000, "val": 600, "test": 1500}
DATA_FILE = "spoken_digits.npz"
MODALITIES = ("pix", "audio")


def split_waveforms(data_cfg: DataConfig, split: str, count: Optional[int] = None):
    """The 1 s clips of a split (what the student's spectrograms were computed from) and their labels."""
    arrays = np.load(_check_config(data_cfg))
    mask = arrays["split"] == SPLITS.index(split)
    waves, labels = arrays["waveform"][mask], arrays["label"][mask].astype(np.int32)
    return (waves, labels) if count is None else (waves[:count], labels[:count])


FRONTEND = AudioFrontendSpec("vggsound", SAMPLE_RATE, "audio", CLIP_SAMPLES, waveforms=split_waveforms)


def espeak_variants() -> list[str]:
    """Names of the installed espeak-ng voice variants (``--voices=variant``)."""
    listing = subprocess.run(["espeak-ng", "--voices=variant"], check=True, capture_output=True, text=True).stdout
    names = [line.split()[4] for line in listing.splitlines()[1:] if len(line.split()) >= 5]
    return sorted({name.split("/")[-1] for name in names})


def speak(word: str, accent: str, variant: str, pitch: int, speed: int, scratch: str) -> np.ndarray:
    """One spoken word at `SAMPLE_RATE`, leading and trailing silence trimmed."""
    path = os.path.join(scratch, "word.wav")
    subprocess.run(["espeak-ng", "-v", f"{accent}+{variant}", "-p", str(pitch), "-s", str(speed), "-w", path, word],
                   check=True, capture_output=True)
    rate, samples = wavfile.read(path)
    if rate != ESPEAK_RATE:
        raise RuntimeError(f"espeak-ng wrote {rate} Hz audio, expected {ESPEAK_RATE}")
    audio = resample_poly(samples.astype(np.float64) / 32768.0, SAMPLE_RATE // 50, ESPEAK_RATE // 50)
    loud = np.flatnonzero(np.abs(audio) > 0.02 * np.max(np.abs(audio)))
    return audio[loud[0] : loud[-1] + 1]


def noisy_clip(word: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, float]:
    """The word at a random offset in a 1 s clip plus coloured noise at a random SNR."""
    if len(word) > CLIP_SAMPLES:
        start = (len(word) - CLIP_SAMPLES) // 2
        word = word[start : start + CLIP_SAMPLES]
    clip = np.zeros(CLIP_SAMPLES)
    offset = rng.integers(0, CLIP_SAMPLES - len(word) + 1)
    clip[offset : offset + len(word)] = word
    # First-order autoregressive noise: white at 0, close to brown near 1.
    noise = lfilter([1.0], [1.0, -rng.uniform(0.0, 0.97)], rng.standard_normal(CLIP_SAMPLES))
    snr_db = rng.uniform(*SNR_DB)
    noise *= np.sqrt(np.mean(word**2) / np.mean(noise**2) / 10 ** (snr_db / 10))
    mixed = clip + noise
    mixed *= rng.uniform(0.05, 0.9) / np.max(np.abs(mixed))
    return mixed.astype(np.float32), snr_db


def make_clips(per_split: dict, seed: int) -> dict:
    """Generates the clips of each split from disjoint voice variants (speakers)."""
    rng = np.random.default_rng(seed)
    variants = rng.permutation(espeak_variants())
    cuts = np.cumsum([round(share * len(variants)) for share in SPEAKER_SHARES])[:-1]
    speakers = dict(zip(SPLITS, np.split(variants, cuts)))
    columns = {key: [] for key in ("waveform", "label", "split", "accent", "variant", "pitch", "speed", "snr_db")}
    with tempfile.TemporaryDirectory() as scratch:
        for split_index, split in enumerate(SPLITS):
            for index in range(per_split[split]):
                label = index % len(DIGIT_WORDS)
                accent, variant = rng.choice(ACCENTS), rng.choice(speakers[split])
                pitch, speed = int(rng.integers(10, 91)), int(rng.integers(120, 241))
                waveform, snr_db = noisy_clip(speak(DIGIT_WORDS[label], accent, variant, pitch, speed, scratch), rng)
                for key, value in zip(columns, (waveform, label, split_index, accent, variant, pitch, speed, snr_db)):
                    columns[key].append(value)
            print(f"[data] {split}: {per_split[split]} clips from {len(speakers[split])} voice variants", flush=True)
    return {key: np.asarray(values) for key, values in columns.items()}


def spectrograms(waveforms: np.ndarray) -> np.ndarray:
    """Log spectrograms ``(n, 129, 126, 1)`` from the package's vggsound front end."""
    frontend = AudioFrontend(kind="vggsound", sample_rate=SAMPLE_RATE, num_samples=CLIP_SAMPLES)
    return np.concatenate([frontend(waveforms[i : i + 256]).numpy() for i in range(0, len(waveforms), 256)])


def pair_teacher_images(labels: np.ndarray, splits: np.ndarray, seed: int) -> np.ndarray:
    """For each clip, an mfeat image row of the same digit from the same split."""
    _, image_labels = read_view("pix")
    image_splits = stratified_split(image_labels, 0.2, 0.2, seed)
    rng = np.random.default_rng(seed)
    rows = np.empty(len(labels), dtype=np.int64)
    for split_index, candidates in enumerate(image_splits):
        for digit in range(len(DIGIT_WORDS)):
            clips = np.flatnonzero((splits == split_index) & (labels == digit))
            rows[clips] = rng.choice(candidates[image_labels[candidates] == digit], size=len(clips))
    return rows


def prepare_spoken_digits(directory: str, per_split: dict = DEFAULT_CLIPS, seed: int = 0) -> str:
    """Writes ``directory/spoken_digits.npz`` once (atomically); later calls reuse it.

    Args:
        directory: the dataset directory (``data.root``).
        per_split: clips per split.
        seed: voices, offsets, noise and the paired images.

    Returns:
        The path of the ``.npz``.

    Raises:
        MissingProgramError: when ``espeak-ng`` is not installed.
    """
    path = os.path.join(directory, DATA_FILE)
    if os.path.isfile(path):
        return path
    if shutil.which("espeak-ng") is None:
        raise MissingProgramError(
            "espeak-ng is not installed; it speaks the digits of the spoken_digits dataset: apt-get install espeak-ng"
        )
    clips = make_clips(per_split, seed)
    return write_arrays(directory, clips, seed)


def write_arrays(directory: str, clips: dict, seed: int) -> str:
    """Adds spectrograms and paired mfeat rows to ``clips`` and writes the ``.npz`` atomically."""
    clips = dict(clips, spectrogram=spectrograms(clips["waveform"]))
    clips["teacher_row"] = pair_teacher_images(clips["label"], clips["split"], seed)
    path = os.path.join(directory, DATA_FILE)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **clips)
    return path


def write_spoken_digits_fixture(root: str, per_split: int = 10) -> dict:
    """The registry's fixture: tones instead of speech (no espeak-ng), same layout.

    Each digit is a tone of its own pitch in noise, so the audio view carries the label.

    Returns:
        The ``data`` keys that select it.
    """
    rng = np.random.default_rng(0)
    time = np.arange(CLIP_SAMPLES) / SAMPLE_RATE
    labels = np.tile(np.arange(len(DIGIT_WORDS)), per_split * len(SPLITS))[: per_split * len(SPLITS)]
    splits = np.repeat(np.arange(len(SPLITS)), per_split)
    waves = 0.4 * np.sin(2 * np.pi * (300.0 + 150.0 * labels[:, None]) * time) + 0.05 * rng.standard_normal((labels.size, time.size))
    write_arrays(root, {"waveform": waves.astype(np.float32), "label": labels, "split": splits}, seed=0)
    return {"name": "spoken_digits", "root": root, "teacher": "pix", "student": "audio", "batch_size": 8}


def _check_config(data_cfg: DataConfig) -> str:
    for key, view in (("data.teacher", data_cfg.teacher), ("data.student", data_cfg.student)):
        if view != {"data.teacher": "pix", "data.student": "audio"}[key]:
            raise ConfigError(f"config key '{key}' must be {'pix' if key == 'data.teacher' else 'audio'} for data.name 'spoken_digits', got {view!r}")
    path = os.path.join(data_cfg.root or "", DATA_FILE)
    if data_cfg.root is None or not os.path.isfile(path):
        raise ConfigError(
            f"config key 'data.root' must be a spoken_digits directory holding {DATA_FILE}, got {data_cfg.root!r}; "
            "create it with fdkd-prepare spoken_digits --out DIR"
        )
    return path


@register_dataset("spoken_digits", modalities=MODALITIES, audio_frontend=FRONTEND, fixture=write_spoken_digits_fixture)
def build_spoken_digits(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Spoken-digit spectrograms (student ``audio``) paired with mfeat digit images (teacher ``pix``)."""
    path = _check_config(data_cfg)
    try:
        arrays = dict(np.load(path))
    except (OSError, ValueError) as error:
        raise DataFormatError(f"cannot read {path} ({error}); delete it and rerun fdkd-prepare spoken_digits") from None
    images = pixels_to_images(read_view("pix")[0])
    pipelines, ordered, sizes, indexed = {}, {}, {}, {}
    for split_index, split in enumerate(SPLITS):
        mask = arrays["split"] == split_index
        inputs = {"teacher": images[arrays["teacher_row"][mask]], "student": arrays["spectrogram"][mask]}
        labels = arrays["label"][mask].astype(np.int32)
        pipelines[split] = make_pipeline(inputs, labels, data_cfg.batch_size,
                                         shuffle_seed(seed) if split == "train" else None,
                                         data_cfg.shuffle_buffer, deterministic)
        ordered[split] = with_determinism(tf.data.Dataset.from_tensor_slices((inputs, labels)), deterministic)
        indexed[split] = functools.partial(
            indexed_pipeline, inputs, labels, data_cfg, seed if split == "train" else None, deterministic
        )
        sizes[split] = int(mask.sum())
    return DatasetBundle(
        **pipelines, num_classes=len(DIGIT_WORDS), class_names=list(DIGIT_WORDS),
        input_shapes={"teacher": images.shape[1:], "student": arrays["spectrogram"].shape[1:]},
        modalities={"teacher": "pix", "student": "audio"}, sizes=sizes, ordered=ordered, indexed=indexed,
        deterministic_train_views={"teacher": True, "student": True}, precomputed_views=("teacher", "student"),
        fingerprint=files_fingerprint([path]),
    )
