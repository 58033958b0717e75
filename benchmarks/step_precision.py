#!/usr/bin/env python
"""Time one ``fdcmkd`` training step under each precision / XLA setting, in one run.

    python benchmarks/step_precision.py --batch-size 8 --steps 1 --warmup 1 --repeats 5 \
        --settings float32,mixed_bfloat16,float32+xla --output step_precision.json

Same models and sizes as `step_overhead.py` (ResNet-18 student on a 257 x 1004
spectrogram, ResNet-18 teacher on 224 x 224 frames, 28 classes, one synthetic batch
repeated); what varies is ``train.precision`` (``float32``, ``mixed_float16``,
``mixed_bfloat16``) and ``train.jit_compile`` (a ``+xla`` suffix). The settings take
turns, the order rotating every repeat, so that load on the machine hits all alike;
the first ``--warmup`` steps of each (tracing, and XLA compilation) are reported
apart. Ratios are of median step times against the first setting. Results:
docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import sys


import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from step_overhead import (  # noqa: E402
    build_method, summarize, synthetic_setting, time_steps, write_result,
)

from fdkd_tf.training.precision import PRECISIONS  # noqa: E402


def parse_setting(text: str) -> tuple[str, bool]:
    """``"mixed_bfloat16+xla"`` -> ``("mixed_bfloat16", True)``."""
    precision, _, suffix = text.partition("+")
    if precision not in PRECISIONS or suffix not in ("", "xla"):
        raise ValueError(f"--settings: {text!r} is not PRECISION[+xla] with PRECISION one of {', '.join(PRECISIONS)}")
    return precision, suffix == "xla"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--settings", default="float32,mixed_bfloat16,float32+xla", help="comma-separated PRECISION[+xla]")
    parser.add_argument("--method", default="fdcmkd")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (8 with --small)")
    parser.add_argument("--steps", type=int, default=1, help="timed steps per setting per repeat")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per setting first (tracing, XLA)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="quick smoke run at toy sizes")
    parser.add_argument("--output", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    try:
        settings = [parse_setting(s.strip()) for s in args.settings.split(",") if s.strip()]
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sizes, spectrogram_shape, frame_shape, dataset = synthetic_setting(args.small, args.batch_size, 28)
    names = [f"{p}+xla" if xla else p for p, xla in settings]
    distillers = {name: build_method(args.method, spectrogram_shape, frame_shape, 28, xla, p) for name, (p, xla) in zip(names, settings)}

    warmup = {}
    for name, distiller in distillers.items():
        warmup[name] = time_steps(distiller, dataset, args.warmup)
        print(f"{name}: warm-up steps {', '.join(f'{s:.1f}' for s in warmup[name]['wall'])} s", flush=True)
    seconds = {name: {"wall": [], "cpu": []} for name in names}
    for repeat in range(args.repeats):
        for name in names[repeat % len(names):] + names[: repeat % len(names)]:
            for clock, values in time_steps(distillers[name], dataset, args.steps).items():
                seconds[name][clock] += values
        print(f"repeat {repeat + 1}/{args.repeats} done", flush=True)
    summaries = {name: summarize(seconds[name]) for name in names}
    base = names[0]
    print(f"\n| setting | wall median ms/step | CPU median ms/step | wall / {base} | CPU / {base} | first step s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        wall, cpu = summaries[name]["wall"]["median_ms"], summaries[name]["cpu"]["median_ms"]
        print(
            f"| {name} | {wall:.0f} | {cpu:.0f} | {wall / summaries[base]['wall']['median_ms']:.3f} | "
            f"{cpu / summaries[base]['cpu']['median_ms']:.3f} | {warmup[name]['wall'][0]:.1f} |"
        )
    if args.output:
        result = {
            "settings": {"names": names, "method": args.method, **sizes, "steps": args.steps, "repeats": args.repeats},
            "machine": {"cpu_count": os.cpu_count(), "tensorflow": tf.__version__, "keras": keras.__version__},
            "summaries": summaries,
            "step_seconds": seconds,
            "warmup_seconds": warmup,
        }
        write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
