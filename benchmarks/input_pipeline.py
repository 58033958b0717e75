"""Input pipeline throughput of the audio-visual loaders against the training step rate.

Goal (issue 3): each pipeline delivers at least 3x the samples per second that a
training step of the ResNet-18 pair consumes, so it never starves the accelerator.

The script writes a synthetic prepared directory per dataset (wavs at the reference
rate and length, 320 x 240 JPEG frames at 1 fps, the layout of
`fdkd_tf.data.audiovisual`), times the training pipeline at full size (224 x 224
frames, 257 x 1004 or 129 x 626 spectrograms) and times one FD-CMKD step (a ResNet-18
teacher and student, forward direction) on the same machine, then prints a Markdown
table.

    python benchmarks/input_pipeline.py --clips 256 --batches 8 --step-batch 64
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time


import numpy as np  # noqa: E402

# dataset -> (seconds of audio per clip, frames per clip, sample rate)
CLIP_SHAPES = {"cremad": (2.5, 3, 22050), "ave": (10.0, 10, 16000), "vggsound": (10.0, 10, 16000)}


def write_prepared(root: str, dataset: str, clips: int, seed: int = 0) -> None:
    """A synthetic prepared directory of ``clips`` clips (all in train and test)."""
    import tensorflow as tf

    from fdkd_tf.data.audio import write_wav
    from fdkd_tf.data.ave import CLASS_NAMES as AVE_CLASSES
    from fdkd_tf.data.cremad import CLASS_NAMES as CREMAD_CLASSES

    seconds, num_frames, rate = CLIP_SHAPES[dataset]
    classes = {"cremad": list(CREMAD_CLASSES), "ave": list(AVE_CLASSES)}.get(dataset, [f"class {i}" for i in range(50)])
    rng = np.random.default_rng(seed)
    os.makedirs(os.path.join(root, "audio"), exist_ok=True)
    jpegs = [tf.io.encode_jpeg(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)).numpy() for _ in range(8)]
    rows, index = [], []
    for number in range(clips):
        name = f"clip{number:05d}"
        write_wav(os.path.join(root, "audio", f"{name}.wav"), 0.3 * rng.standard_normal(int(seconds * rate)), rate)
        frames_dir = os.path.join(root, "frames", name)
        os.makedirs(frames_dir, exist_ok=True)
        for frame in range(num_frames):
            with open(os.path.join(frames_dir, f"{frame:04d}.jpg"), "wb") as handle:
                handle.write(jpegs[(number + frame) % len(jpegs)])
        rows.append(f"{name}\t{classes[number % len(classes)]}\n")
        index.append(f"{name}\t{num_frames}\n")
    for name, lines in (("classes.txt", [f"{c}\n" for c in classes]), ("index.tsv", index), ("train.tsv", rows), ("val.tsv", rows), ("test.tsv", rows)):
        with open(os.path.join(root, name), "w") as handle:
            handle.writelines(lines)


def pipeline_rate(root: str, dataset: str, batch: int, batches: int) -> float:
    """Samples per second of the training pipeline (after one warm-up batch)."""
    import warnings

    from fdkd_tf.config import DataConfig
    from fdkd_tf.data import build_datasets

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bundle = build_datasets(DataConfig(name=dataset, root=root, teacher="visual", student="audio", batch_size=batch), seed=0)
    iterator = iter(bundle.train.repeat())
    next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch / (time.perf_counter() - start)


def step_rate(input_shapes: dict, batch: int, steps: int) -> float:
    """Samples per second of compiled FD-CMKD steps (ResNet-18 teacher and student)."""
    import keras
    import tensorflow as tf

    from fdkd_tf.config import DistillConfig, ModelSpec
    from fdkd_tf.distillers import Direction, build_distiller
    from fdkd_tf.models import build_classifier

    spec = ModelSpec(arch="resnet18")
    teacher = build_classifier(spec, input_shapes["teacher"], 28, "teacher")
    student = build_classifier(spec, input_shapes["student"], 28, "student")
    distiller = build_distiller(DistillConfig(method="fdcmkd"), [Direction("audio", "student", student, "teacher", teacher)], 28)
    distiller.compile(optimizer=keras.optimizers.SGD(1e-2, momentum=0.9))
    inputs = {key: tf.random.normal((batch, *shape)) for key, shape in input_shapes.items()}
    labels = tf.zeros((batch,), tf.int32)
    distiller.train_on_batch(inputs, labels)  # compile
    start = time.perf_counter()
    for _ in range(steps):
        distiller.train_on_batch(inputs, labels)
    return steps * batch / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", default="cremad,ave,vggsound")
    parser.add_argument("--clips", type=int, default=256, help="synthetic clips per dataset")
    parser.add_argument("--batch", type=int, default=64, help="pipeline batch size")
    parser.add_argument("--batches", type=int, default=8, help="timed pipeline batches")
    parser.add_argument("--step-batch", type=int, default=64, help="batch of the timed training step")
    parser.add_argument("--steps", type=int, default=3, help="timed training steps")
    args = parser.parse_args(argv)
    import tensorflow as tf

    device = "GPU: " + tf.config.list_physical_devices("GPU")[0].name if tf.config.list_physical_devices("GPU") else f"CPU ({os.cpu_count()} cores)"
    print(f"device: {device}; pipeline batch {args.batch}, step batch {args.step_batch}")
    print("| dataset | pipeline samples/s | training step samples/s | ratio |")
    print("|---|---|---|---|")
    for dataset in args.datasets.split(","):
        with tempfile.TemporaryDirectory() as root:
            write_prepared(root, dataset, args.clips)
            delivered = pipeline_rate(root, dataset, args.batch, args.batches)
        shapes = {"teacher": (3, 224, 224, 3) if dataset == "vggsound" else (224, 224, 3), "student": (129, 626, 1) if dataset == "vggsound" else (257, 1004, 1)}
        consumed = step_rate(shapes, args.step_batch, args.steps)
        print(f"| {dataset} | {delivered:.1f} | {consumed:.1f} | {delivered / consumed:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
