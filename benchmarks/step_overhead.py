#!/usr/bin/env python
"""Time one training step of ``fdcmkd`` against ``none`` and ``feat`` (AVE sizes).

    python benchmarks/step_overhead.py --batch-size 64 --steps 5 --warmup 2 \
        --repeats 3 --methods none,feat,fdcmkd --output step_overhead.json

The student is a ResNet-18 on a (height, width, 1) spectrogram (AVE: 257 x 1004),
the teacher a ResNet-18 on (frame, frame, 3) frames (224 x 224), 28 classes. Each
method trains on one synthetic batch repeated by ``tf.data`` (no input cost).
Three configurations separate the costs:

- ``none``: the student alone with cross-entropy;
- ``feat``: + the frozen teacher's forward pass and one feature MSE;
- ``fdcmkd``: + the frequency decoupling, band losses and the four extra heads.

``fdcmkd / feat`` is the overhead of the frequency losses and heads beyond running
the teacher; ``fdcmkd / none`` is the full cost of distillation. The teacher's
forward pass is also timed alone. Steps are timed by a callback around each
``train_function`` call (Keras converts the step's logs to numpy before the
callback runs, so the step has finished); the first ``--warmup`` steps (tracing)
are dropped, and the methods take turns (the order rotates every repeat) so that
drift or other load on the machine hits all alike; on a shared machine prefer
``--steps 1`` with more ``--repeats`` for the finest interleaving.

Both wall time and the process's CPU time (all its threads) are reported: on a
machine shared with other work, wall time swings with the load while CPU time
stays close to the work done. ``--precision`` and ``--jit-compile`` set
``train.precision`` and ``train.jit_compile`` for every method
(`step_precision.py` compares those settings against each other in one run).
``--small`` runs a quick smoke test at toy sizes.
Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from fdkd_tf.config import DistillConfig, ModelSpec  # noqa: E402
from fdkd_tf.distillers import Direction, available, build_distiller  # noqa: E402
from fdkd_tf.models import build_classifier  # noqa: E402
from fdkd_tf.training.precision import PRECISIONS, precision_policy  # noqa: E402

# Sizes left unset on the command line: AVE sizes, or toy sizes with --small.
FULL_SIZES = {"batch_size": 64, "height": 257, "width": 1004, "frame_size": 224}
SMALL_SIZES = {"batch_size": 8, "height": 64, "width": 128, "frame_size": 64}


def clocks():
    """``(wall, cpu)`` seconds now; CPU time sums every thread of this process."""
    return np.array([time.perf_counter(), time.process_time()])


class StepTimer(keras.callbacks.Callback):
    """Records the wall and CPU seconds of every training step."""

    def __init__(self):
        super().__init__()
        self.step_seconds = {"wall": [], "cpu": []}
        self._started = None

    def on_train_batch_begin(self, batch, logs=None):
        self._started = clocks()

    def on_train_batch_end(self, batch, logs=None):
        wall, cpu = clocks() - self._started
        self.step_seconds["wall"].append(float(wall))
        self.step_seconds["cpu"].append(float(cpu))


def synthetic_dataset(batch_size, spectrogram_shape, frame_shape, num_classes, seed=0):
    """One random paired batch repeated forever: ``({"teacher", "student"}, labels)``."""
    rng = np.random.default_rng(seed)
    inputs = {
        "teacher": rng.normal(size=(batch_size, *frame_shape)).astype("float32"),  # (B, F, F, 3)
        "student": rng.normal(size=(batch_size, *spectrogram_shape)).astype("float32"),  # (B, H, W, 1)
    }
    labels = rng.integers(0, num_classes, size=batch_size).astype("int32")
    return tf.data.Dataset.from_tensors((inputs, labels)).repeat()


def synthetic_setting(small: bool, batch_size, num_classes: int):
    """AVE sizes (or toy ones) with an optional batch override: ``(sizes,
    spectrogram_shape, frame_shape, dataset)``, for the sibling benchmarks."""
    sizes = dict(SMALL_SIZES if small else FULL_SIZES)
    if batch_size:
        sizes["batch_size"] = batch_size
    spectrogram_shape, frame_shape = (sizes["height"], sizes["width"], 1), (sizes["frame_size"], sizes["frame_size"], 3)
    return sizes, spectrogram_shape, frame_shape, synthetic_dataset(sizes["batch_size"], spectrogram_shape, frame_shape, num_classes)


def build_method(method, spectrogram_shape, frame_shape, num_classes, jit_compile, precision="float32"):
    """A compiled distiller of ``method`` with a ResNet-18 student and teacher,
    built under the dtype policy ``precision`` (``train.precision``)."""
    keras.utils.set_random_seed(0)
    resnet = ModelSpec(arch="resnet18")
    with precision_policy(precision):
        student = build_classifier(resnet, spectrogram_shape, num_classes, name="student_audio")
        teacher = build_classifier(resnet, frame_shape, num_classes, name="teacher_visual")
        direction = Direction("audio", "student", student, "teacher", teacher)
        distiller = build_distiller(DistillConfig(method=method), [direction], num_classes)
    distiller.compile(
        optimizer=keras.optimizers.SGD(0.01, momentum=0.9),
        jit_compile="auto" if jit_compile is None else jit_compile,
    )
    return distiller


def time_steps(distiller, dataset, steps):
    """``{"wall", "cpu"}`` seconds of each of ``steps`` training steps of one ``fit``."""
    timer = StepTimer()
    distiller.fit(dataset, steps_per_epoch=steps, epochs=1, callbacks=[timer], shuffle=False, verbose=0)
    return timer.step_seconds


def time_teacher_forward(distiller, dataset, steps, warmup):
    """``{"wall", "cpu"}`` seconds of each of ``steps`` forward passes of the teacher."""
    teacher = distiller.directions[0].teacher
    frames = next(iter(dataset))[0]["teacher"]
    forward = tf.function(
        lambda x: teacher(x, training=False)["features"], jit_compile=bool(distiller.jit_compile)
    )
    seconds = {"wall": [], "cpu": []}
    for step in range(warmup + steps):
        started = clocks()
        forward(frames).numpy()  # .numpy() waits for the result
        wall, cpu = clocks() - started
        if step >= warmup:
            seconds["wall"].append(float(wall))
            seconds["cpu"].append(float(cpu))
    return seconds


def summarize(seconds):
    """Median and quartiles in milliseconds, per clock."""
    summary = {}
    for clock, values in seconds.items():
        q1, median, q3 = np.percentile(np.asarray(values) * 1e3, [25, 50, 75])
        summary[clock] = {"median_ms": float(median), "q1_ms": float(q1), "q3_ms": float(q3), "iqr_ms": float(q3 - q1), "n": len(values)}
    return summary


def ratios(summaries):
    """Ratios of median step times between the configurations that were run."""
    pairs = {
        "fdcmkd/none": ("fdcmkd", "none", "full cost of distillation"),
        "fdcmkd/feat": ("fdcmkd", "feat", "overhead of the frequency losses and heads beyond running the teacher"),
        "feat/none": ("feat", "none", "cost of the teacher forward pass and one MSE"),
    }
    return {
        key: {
            **{clock: summaries[top][clock]["median_ms"] / summaries[bottom][clock]["median_ms"] for clock in ("wall", "cpu")},
            "meaning": meaning,
        }
        for key, (top, bottom, meaning) in pairs.items()
        if top in summaries and bottom in summaries
    }


def markdown(summaries, ratio_rows):
    """The two result tables (times per configuration, ratios) in markdown."""
    lines = [
        "| configuration | wall median ms/step | wall IQR ms | CPU median ms/step | CPU IQR ms | steps timed |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, summary in summaries.items():
        wall, cpu = summary["wall"], summary["cpu"]
        lines.append(f"| {name} | {wall['median_ms']:.1f} | {wall['iqr_ms']:.1f} | {cpu['median_ms']:.1f} | {cpu['iqr_ms']:.1f} | {wall['n']} |")
    lines += ["", "| ratio of medians | wall | CPU | meaning |", "|---|---:|---:|---|"]
    for key, row in ratio_rows.items():
        lines.append(f"| {key} | {row['wall']:.3f} | {row['cpu']:.3f} | {row['meaning']} |")
    return "\n".join(lines)


def write_result(path, result) -> None:
    """Writes a benchmark's results as indented JSON and says where."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"\nwrote {path}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (8 with --small)")
    parser.add_argument("--height", type=int, default=None, help="spectrogram height, default 257 (64 with --small)")
    parser.add_argument("--width", type=int, default=None, help="spectrogram width, default 1004 (128 with --small)")
    parser.add_argument("--frame-size", type=int, default=None, help="square frame side, default 224 (64 with --small)")
    parser.add_argument("--num-classes", type=int, default=28)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per method per repeat")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per method first (tracing)")
    parser.add_argument("--repeats", type=int, default=3, help="rounds over the methods")
    parser.add_argument("--methods", default="none,feat,fdcmkd", help="comma-separated method names")
    parser.add_argument("--jit-compile", action=argparse.BooleanOptionalAction, default=None, help="XLA (default: Keras 'auto', off on CPU)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32", help="dtype policy of every model (train.precision)")
    parser.add_argument("--no-teacher-forward", action="store_true", help="skip timing the teacher's forward pass alone")
    parser.add_argument("--small", action="store_true", help="quick smoke run at toy sizes")
    parser.add_argument("--output", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)

    for key, value in (SMALL_SIZES if args.small else FULL_SIZES).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in available()]
    if unknown or not methods:
        print(f"error: --methods: unknown method(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(available())}", file=sys.stderr)
        return 2
    if min(args.steps, args.repeats) < 1 or args.warmup < 1:
        print(f"error: --steps, --repeats and --warmup must be at least 1 (warm-up traces the step), got {args.steps}, {args.repeats}, {args.warmup}", file=sys.stderr)
        return 2

    spectrogram_shape = (args.height, args.width, 1)
    frame_shape = (args.frame_size, args.frame_size, 3)
    dataset = synthetic_dataset(args.batch_size, spectrogram_shape, frame_shape, args.num_classes)
    distillers = {
        m: build_method(m, spectrogram_shape, frame_shape, args.num_classes, args.jit_compile, args.precision) for m in methods
    }

    warmup_seconds = {}
    for method, distiller in distillers.items():
        warmup_seconds[method] = time_steps(distiller, dataset, args.warmup)
        print(f"{method}: warm-up steps took {', '.join(f'{s:.1f}' for s in warmup_seconds[method]['wall'])} s", flush=True)
    step_seconds = {m: {"wall": [], "cpu": []} for m in methods}
    load_averages = []  # 1-minute load after each repeat: > CPU count means other work competed
    for repeat in range(args.repeats):
        order = methods[repeat % len(methods):] + methods[: repeat % len(methods)]  # rotate who goes first
        for method in order:
            for clock, values in time_steps(distillers[method], dataset, args.steps).items():
                step_seconds[method][clock] += values
            wall, cpu = (np.median(step_seconds[method][c][-args.steps:]) * 1e3 for c in ("wall", "cpu"))
            print(f"repeat {repeat + 1}/{args.repeats} {method}: {wall:.1f} ms/step wall, {cpu:.1f} ms CPU", flush=True)
        load_averages.append(os.getloadavg()[0])

    summaries = {m: summarize(step_seconds[m]) for m in methods}
    teacher_method = next((m for m in methods if distillers[m].uses_teacher), None)
    if teacher_method and not args.no_teacher_forward:
        seconds = time_teacher_forward(distillers[teacher_method], dataset, args.steps * args.repeats, args.warmup)
        summaries["teacher forward only"] = summarize(seconds)
    ratio_rows = ratios(summaries)

    print()
    print(markdown(summaries, ratio_rows))
    if args.output:
        result = {
            "settings": {
                **{k: getattr(args, k) for k in ("batch_size", "height", "width", "frame_size", "num_classes", "steps", "warmup", "repeats", "small")},
                "methods": methods,
                "precision": args.precision,
                "jit_compile": {m: bool(d.jit_compile) for m, d in distillers.items()},
            },
            "machine": {
                "cpu_count": os.cpu_count(),
                "platform": platform.platform(),
                "devices": [d.device_type for d in tf.config.list_physical_devices()],
                "tensorflow": tf.__version__,
                "keras": keras.__version__,
                "load_average_1min_per_repeat": load_averages,
            },
            "summaries": summaries,
            "ratios": ratio_rows,
            "step_seconds": step_seconds,
            "warmup_seconds": warmup_seconds,
        }
        write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
