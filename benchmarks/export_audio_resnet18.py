#!/usr/bin/env python
"""Export goals on a distilled audio ResNet-18 student (docs/deployment.md).

No audio benchmark can be downloaded here, so this builds a small cross-modal task
that runs offline: spoken digits. ``espeak-ng`` (Debian package ``espeak-ng``) says
"zero" .. "nine" with 7 English accents, about 100 voice variants, random pitch and
speed; each word is resampled to 16 kHz, placed at a random offset in a 1 s clip and
mixed with coloured noise at -5..15 dB SNR. The voice variants are split between
train, validation and test, so the test speakers are never heard in training. The
student reads the clip's log spectrogram (the ``vggsound`` front end,
``fdkd_tf.layers.AudioFrontend``: 129 x 126); the teacher is the mfeat pixel-image
CNN, shown an image of the same digit (class-paired: the two modalities share
labels, not recordings). The student is a keras-hub ResNet-18 distilled with FD-CMKD by
`run_experiment`, and exported and verified by `export_run`: the code behind
``tools/train.py`` and ``tools/export.py``. The dataset is registered with
`fdkd_tf.data.register_dataset`, the extension point a user's own data goes through.

Stages are resumable: the clips (``OUTPUT/data/``), the run (``OUTPUT/run/``), the
export (``OUTPUT/run/export/``), int8 in the other weight-scale modes
(``OUTPUT/int8-<scales>/``) and fp32 + int8 with the front end in the graph, scored
on raw test waveforms (``OUTPUT/with-preprocessing/``; int8 with a quantized front
end in ``OUTPUT/with-preprocessing-int8-frontend/``), are each skipped when already
written.

    apt-get install espeak-ng
    python benchmarks/export_audio_resnet18.py --output runs/spoken-digits
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile


import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from scipy.io import wavfile  # noqa: E402
from scipy.signal import lfilter, resample_poly  # noqa: E402

from fdkd_tf.config import load_config  # noqa: E402
from fdkd_tf.data import register_dataset  # noqa: E402
from fdkd_tf.data.bundle import DatasetBundle  # noqa: E402
from fdkd_tf.data.determinism import with_determinism  # noqa: E402
from fdkd_tf.data.mfeat import make_pipeline, pixels_to_images, read_view, shuffle_seed  # noqa: E402
from fdkd_tf.data.splits import stratified_split  # noqa: E402
from fdkd_tf.export import FORMATS, INT8_SCALES, build_inference_model, export_model, export_run  # noqa: E402
from fdkd_tf.layers import AudioFrontend  # noqa: E402
from fdkd_tf.training.experiment import run_experiment  # noqa: E402
from fdkd_tf.files import atomic_path  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029")
ESPEAK_RATE, SAMPLE_RATE, CLIP_SAMPLES = 22_050, 16_000, 16_000
SNR_DB = (-5.0, 15.0)
SPLITS = ("train", "val", "test")
SPEAKER_SHARES = (0.6, 0.15, 0.25)  # voice variants per split
DEFAULT_CLIPS = {"train": 3000, "val": 600, "test": 1500}
DATA_FILE = "spoken_digits.npz"
#: the mfeat config: its pix teacher, training schedule and FD-CMKD settings
BASE_CONFIG = os.path.join(REPO, "configs", "mfeat.yaml")


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


def prepare_data(directory: str, per_split: dict, seed: int) -> str:
    """Writes ``directory/spoken_digits.npz`` once; later calls reuse it."""
    path = os.path.join(directory, DATA_FILE)
    if os.path.isfile(path):
        return path
    if shutil.which("espeak-ng") is None:
        sys.exit("espeak-ng is not installed: apt-get install espeak-ng (it speaks the digits of this benchmark)")
    os.makedirs(directory, exist_ok=True)
    clips = make_clips(per_split, seed)
    clips["spectrogram"] = spectrograms(clips["waveform"])
    clips["teacher_row"] = pair_teacher_images(clips["label"], clips["split"], seed)
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            np.savez(handle, **clips)
    return path


def experiment_overrides(data_dir: str, epochs: int) -> list[str]:
    """``--set`` overrides of `BASE_CONFIG` for the spoken-digit task (FD-CMKD by default)."""
    return [
        "experiment.name=spoken-digits", "data.name=spoken_digits", f"data.root={os.path.abspath(data_dir)}",
        "data.student=audio", "data.batch_size=32", "model.student.arch=resnet18", f"train.epochs={epochs}",
    ]


@register_dataset("spoken_digits")
def build_spoken_digits(data_cfg, seed: int, deterministic: bool = False) -> DatasetBundle:
    """Spoken-digit spectrograms (student) paired with mfeat digit images (teacher)."""
    arrays = np.load(os.path.join(data_cfg.root, DATA_FILE))
    images = pixels_to_images(read_view("pix")[0])
    pipelines, ordered, sizes = {}, {}, {}
    for split_index, split in enumerate(SPLITS):
        mask = arrays["split"] == split_index
        inputs = {"teacher": images[arrays["teacher_row"][mask]], "student": arrays["spectrogram"][mask]}
        labels = arrays["label"][mask].astype(np.int32)
        pipelines[split] = make_pipeline(inputs, labels, data_cfg.batch_size,
                                         shuffle_seed(seed) if split == "train" else None,
                                         data_cfg.shuffle_buffer, deterministic)
        ordered[split] = with_determinism(tf.data.Dataset.from_tensor_slices((inputs, labels)), deterministic)
        sizes[split] = int(mask.sum())
    return DatasetBundle(
        **pipelines, num_classes=len(DIGIT_WORDS), class_names=list(DIGIT_WORDS),
        input_shapes={"teacher": images.shape[1:], "student": arrays["spectrogram"].shape[1:]},
        modalities={"teacher": "pix", "student": "audio"}, sizes=sizes, ordered=ordered,
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="benchmark directory (data/, run/, int8-*/)")
    for split, count in DEFAULT_CLIPS.items():
        parser.add_argument(f"--{split}-clips", type=int, default=count)
    parser.add_argument("--epochs", type=int, default=8, help="student epochs (FD-CMKD, SGD, poly schedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-samples", type=int, default=20)
    args = parser.parse_args(argv)

    data_dir = os.path.join(args.output, "data")
    prepare_data(data_dir, {"train": args.train_clips, "val": args.val_clips, "test": args.test_clips}, args.seed)
    config = load_config(BASE_CONFIG, experiment_overrides(data_dir, args.epochs) + [f"experiment.seed={args.seed}", "train.verbose=2"])
    run_dir = os.path.join(args.output, "run")
    if not os.path.isfile(os.path.join(run_dir, "metrics.json")):
        run_experiment(config, run_dir)
    if not os.path.isfile(os.path.join(run_dir, "export", "report.json")):
        export_run(run_dir, FORMATS, latency_samples=args.latency_samples)
    with open(os.path.join(run_dir, "export", "report.json")) as handle:
        default_scales = json.load(handle)["int8_weight_scales"]
    for scales in INT8_SCALES:  # the other int8 weight-scale modes, for the comparison table
        target = os.path.join(args.output, f"int8-{scales}")
        if scales != default_scales and not os.path.isfile(os.path.join(target, "report.json")):
            export_run(run_dir, ["tflite_int8"], latency_samples=args.latency_samples, int8_scales=scales, output_dir=target)
    export_with_frontend(data_dir, run_dir, args.output, args.latency_samples)
    return 0


def export_with_frontend(data_dir: str, run_dir: str, output: str, latency_samples: int) -> None:
    """fp32 and int8 of front end + student, fed raw test waveforms (what an app feeds).

    `export_run` checks a front-end export on synthetic waveforms, because the paper
    datasets' splits hold spectrograms; here the clips are at hand, so the exported
    graph is scored on the 1 s test waveforms and calibrated on the first training
    ones. int8 is written twice: with the front end kept in float32 (what
    ``tools/export.py --with-preprocessing`` does) and with it quantized too.
    """
    arrays = np.load(os.path.join(data_dir, DATA_FILE))
    train, test = arrays["split"] == 0, arrays["split"] == 2
    student = keras.saving.load_model(os.path.join(run_dir, "student.keras"))
    frontend = AudioFrontend(kind="vggsound", sample_rate=SAMPLE_RATE, num_samples=CLIP_SAMPLES)
    model = build_inference_model(student, frontend, CLIP_SAMPLES)
    for suffix, formats, float_layers in (("", ["tflite", "tflite_int8"], [frontend.name]),
                                          ("-int8-frontend", ["tflite_int8"], [])):
        target = os.path.join(output, f"with-preprocessing{suffix}")
        if os.path.isfile(os.path.join(target, "report.json")):
            continue
        export_model(
            model, target, formats, arrays["waveform"][test], arrays["label"][test],
            representative=arrays["waveform"][train][:200], latency_samples=latency_samples,
            float_layers=float_layers,
            extra_report={"run_dir": os.path.abspath(run_dir), "with_preprocessing": True,
                          "verification_inputs": "the test split's raw 1 s waveforms", "representative_split": "train"},
        )


if __name__ == "__main__":
    sys.exit(main())
