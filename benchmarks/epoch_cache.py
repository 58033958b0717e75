#!/usr/bin/env python
"""Epoch time of the paper's headline direction with and without the caches, in one run.

    python benchmarks/epoch_cache.py --clips 48 --batch-size 8 --output epoch_cache.json

AVE sizes: the **visual** student (ResNet-18 on 224 x 224 frames, random crop and flip
every epoch) learns from the frozen **audio** teacher (ResNet-18 on the 257 x 1004
reference log spectrogram of a 10 s clip at 16 kHz) with FD-CMKD, 28 classes. The
clips are synthetic (tones and noise, one 320 x 240 JPEG per second) written in the
prepared AVE layout (`fdkd_tf.data.audiovisual`), so the whole input pipeline runs:
wav decode, STFT, JPEG decode, augmentation.

Two configurations train the same distiller from the same weights for two epochs
each, and the second epoch is timed (the first includes tracing):

- ``uncached``: ``data.cache: off``, ``distill.teacher_cache: off`` (every step
  computes the spectrogram and runs the teacher);
- ``cached``: both caches ``auto`` (here: memory). The one-off cost of filling them
  (one pass of the front end and the teacher over train and val) is reported apart.

The result is ``cached / uncached`` epoch time (goal: at most 0.5). Results:
docs/performance.md. ``--small`` runs toy sizes as a smoke test.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import warnings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from step_overhead import write_result  # noqa: E402

from fdkd_tf.config import DataConfig, DistillConfig, ModelSpec  # noqa: E402
from fdkd_tf.data import build_datasets  # noqa: E402
from fdkd_tf.data.audio import write_wav  # noqa: E402
from fdkd_tf.data.errors import DatasetWarning  # noqa: E402
from fdkd_tf.data.caching import apply_input_cache  # noqa: E402
from fdkd_tf.distillers import Direction, build_distiller  # noqa: E402
from fdkd_tf.models import build_classifier  # noqa: E402
from fdkd_tf.training.teacher_cache import cached_pipelines  # noqa: E402

NUM_CLASSES = 28
SAMPLE_RATE = 16000


def write_prepared_ave(root: str, clips: dict, seconds: int, frame_shape=(240, 320), seed: int = 0) -> None:
    """Synthetic clips in the prepared layout: ``{split: count}`` clips, round-robin classes."""
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "audio"), exist_ok=True)
    classes = [f"class_{index:02d}" for index in range(NUM_CLASSES)]
    with open(os.path.join(root, "classes.txt"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(classes) + "\n")
    index_lines = []
    for split, count in clips.items():
        rows = []
        for number in range(count):
            name, label = f"{split}_{number:04d}", classes[number % NUM_CLASSES]
            time_axis = np.arange(seconds * SAMPLE_RATE) / SAMPLE_RATE
            tone = 0.3 * np.sin(2 * np.pi * (200 + 40 * (number % NUM_CLASSES)) * time_axis)
            write_wav(os.path.join(root, "audio", f"{name}.wav"), tone + 0.05 * rng.normal(size=tone.shape), SAMPLE_RATE)
            frames_dir = os.path.join(root, "frames", name)
            os.makedirs(frames_dir, exist_ok=True)
            for frame in range(seconds):
                image = rng.integers(0, 256, size=(*frame_shape, 3), dtype=np.uint8)
                tf.io.write_file(os.path.join(frames_dir, f"{frame:04d}.jpg"), tf.io.encode_jpeg(image, quality=90))
            rows.append(f"{name}\t{label}")
            index_lines.append(f"{name}\t{seconds}")
        with open(os.path.join(root, f"{split}.tsv"), "w", encoding="utf-8") as handle:
            handle.write("\n".join(rows) + "\n")
    with open(os.path.join(root, "index.tsv"), "w", encoding="utf-8") as handle:
        handle.write("\n".join(index_lines) + "\n")


class EpochTimer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds, self._started = [], None

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self._started)


def build(bundle, initial=None):
    """The headline distiller: visual ResNet-18 student, frozen audio ResNet-18 teacher."""
    keras.utils.set_random_seed(0)
    resnet = ModelSpec(arch="resnet18")
    student = build_classifier(resnet, bundle.input_shapes["student"], NUM_CLASSES, "student_visual")
    teacher = build_classifier(resnet, bundle.input_shapes["teacher"], NUM_CLASSES, "teacher_audio")
    distiller = build_distiller(DistillConfig(method="fdcmkd"), [Direction("visual", "student", student, "teacher", teacher)], NUM_CLASSES)
    if initial is not None:
        distiller.set_weights(initial)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9))
    return distiller


def run(data_cfg: DataConfig, cached: bool, initial, epochs: int = 2) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)  # synthetic classes and split sizes
        bundle = build_datasets(data_cfg, seed=0)
    started = time.perf_counter()
    lines = []
    if cached:
        bundle = apply_input_cache(bundle, data_cfg, None, lines.append)
    distiller = build(bundle, initial)
    pipelines, plan = cached_pipelines(distiller, bundle, data_cfg, "auto" if cached else "off", None, lines.append)
    train = pipelines["train"]()  # reshuffled at every pass, as one fit over all epochs reads it
    if cached:  # fill both caches now, so that the timed epochs only read them
        for dataset in (train, pipelines["val"]):
            for _ in dataset.take(1):
                pass
    fill_seconds = time.perf_counter() - started
    timer = EpochTimer()
    distiller.fit(train, validation_data=pipelines["val"], epochs=epochs, callbacks=[timer], verbose=0)
    for line in lines:
        print(f"  {line}")
    return {"epoch_seconds": timer.seconds, "cache_fill_seconds": fill_seconds if cached else 0.0,
            "input_cache": bundle.input_cache, "teacher_cache": plan.mode, "log": lines}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=48, help="training clips (val and test: a quarter each)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--small", action="store_true", help="toy sizes (2 s clips, 64 px frames)")
    parser.add_argument("--data-dir", default=None, help="where to write the synthetic clips (default: a temp dir)")
    parser.add_argument("--output", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    seconds = 2 if args.small else 10
    extra = {"audio_samples": 2 * SAMPLE_RATE, "image_size": 64} if args.small else {}
    root = args.data_dir or tempfile.mkdtemp(prefix="epoch_cache_")
    val = max(args.clips // 4, args.batch_size)
    if not os.path.exists(os.path.join(root, "index.tsv")):
        write_prepared_ave(root, {"train": args.clips, "val": val, "test": val}, seconds)
    base = dict(name="ave", root=root, teacher="audio", student="visual", batch_size=args.batch_size, **extra)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DatasetWarning)
        initial = build(build_datasets(DataConfig(**base), seed=0)).get_weights()
    results = {}
    for name, cached in (("uncached", False), ("cached", True)):
        print(f"{name}: training 2 epochs", flush=True)
        results[name] = run(DataConfig(**base, cache="auto" if cached else "off"), cached, initial)
        print(f"{name}: epochs {', '.join(f'{s:.1f}' for s in results[name]['epoch_seconds'])} s", flush=True)
    ratio = results["cached"]["epoch_seconds"][-1] / results["uncached"]["epoch_seconds"][-1]
    print("\n| configuration | epoch 2 (s) | cache fill (s) |\n|---|---:|---:|")
    for name in results:
        print(f"| {name} | {results[name]['epoch_seconds'][-1]:.1f} | {results[name]['cache_fill_seconds']:.1f} |")
    print(f"\ncached / uncached epoch time: {ratio:.3f} (goal: at most 0.5)")
    if args.output:
        write_result(args.output, {
            "settings": {"clips": {"train": args.clips, "val": val}, "batch_size": args.batch_size, "clip_seconds": seconds,
                         "small": args.small},
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "tensorflow": tf.__version__,
                        "keras": keras.__version__},
            "results": results,
            "ratio_cached_over_uncached": ratio,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
