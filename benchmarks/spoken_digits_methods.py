#!/usr/bin/env python
"""Methods compared on the spoken-digit task with an audio ResNet-18 student (docs/results.md).

The task of `fdkd_tf.data.spoken_digits` (espeak-ng digits in noise,
unseen test speakers; an mfeat image teacher of the same digit), run through
`fdkd_tf.training.benchmark.run_benchmark`, the code behind ``tools/benchmark.py``:
one teacher per seed, every method on it, ``results.csv`` and ``results.md``.
Rerunning resumes; the clips are generated once into ``--data``.

    python benchmarks/spoken_digits_methods.py --data runs/spoken-digits/data --output runs/spoken-digits-methods
"""

from __future__ import annotations

import argparse
import os
import sys


from fdkd_tf.config import ConfigError
from fdkd_tf.data.errors import MissingProgramError
from fdkd_tf.data.spoken_digits import DEFAULT_CLIPS, prepare_spoken_digits
from fdkd_tf.training.benchmark import method_variants, run_benchmark, tuned_variant

CONFIG = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs", "spoken_digits.yaml")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="clip directory (written on first use)")
    parser.add_argument("--output", required=True, help="benchmark directory")
    parser.add_argument("--methods", default="none,fdcmkd")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run, e.g. train.epochs=2")
    parser.add_argument("--tuned", default=None, metavar="BEST_YAML", help="add the row fdcmkd_tuned at the lambdas of a tools/tune.py search")
    parser.add_argument("--report-only", action="store_true", help="start no run: write the tables from the runs already finished")
    args = parser.parse_args(argv)
    try:
        if not args.report_only:
            prepare_spoken_digits(args.data, DEFAULT_CLIPS, seed=0)
    except MissingProgramError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    methods = args.methods.split(",")
    overrides = [f"data.root={os.path.abspath(args.data)}", f"train.epochs={args.epochs}", *args.set]
    try:
        variants = method_variants(methods) + ([tuned_variant(args.tuned)] if args.tuned else [])
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run_benchmark(CONFIG, variants, list(range(args.seeds)), args.output, overrides, run_missing=not args.report_only)
    with open(os.path.join(args.output, "results.md")) as handle:
        print(handle.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
