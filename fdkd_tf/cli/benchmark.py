"""Compare methods over seeds on one config and write results.csv / results.md.

    python tools/benchmark.py --config configs/mfeat.yaml \
        --methods none,kd,feat,fdcmkd --seeds 3 --output runs/mfeat-benchmark

    python tools/benchmark.py --config configs/mfeat.yaml --ablation --seeds 3 \
        --output runs/mfeat-ablation           # the seven rows of Table 4

    python tools/benchmark.py ... --tuned runs/mfeat-tune/best.yaml   # + a row at the tuned lambdas

Each seed's teacher is trained once and reused by every method; finished runs are
skipped when the command is rerun; failed runs are listed in the table.
"""

from __future__ import annotations

import argparse
import os
import sys


from fdkd_tf.cli.errors import guarded
from fdkd_tf.config import ConfigError, load_config
from fdkd_tf.distillers import available


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML")
    parser.add_argument("--methods", default="none,kd,feat,fdcmkd", help="comma-separated method names")
    parser.add_argument("--ablation", action="store_true", help="run the seven fdcmkd rows of Table 4 instead of --methods")
    parser.add_argument("--tuned", default=None, metavar="BEST_YAML", help="add the row fdcmkd_tuned: the lambdas of a tools/tune.py search (its best.yaml)")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0 .. N-1)")
    parser.add_argument("--output", required=True, help="output directory")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override for every run")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=0, help="Keras output of each run")
    parser.add_argument("--report-only", action="store_true", help="start no run: write the tables from the runs already finished")
    args = parser.parse_args(argv)
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in available()]
    if unknown or not methods:
        print(f"error: --methods: unknown method(s) {', '.join(unknown) or '(none given)'}; choose from {', '.join(available())}", file=sys.stderr)
        return 2
    if args.seeds < 1:
        print("error: --seeds must be at least 1", file=sys.stderr)
        return 2
    try:
        load_config(args.config, args.set)  # fail fast on a bad config
        if args.tuned:
            load_config(args.tuned)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from fdkd_tf.training.benchmark import ablation_variants, method_variants, run_benchmark, tuned_variant

    variants = ablation_variants() if args.ablation else method_variants(methods)
    if args.tuned:
        variants.append(tuned_variant(args.tuned))
    rows = run_benchmark(args.config, variants, list(range(args.seeds)), args.output, args.set, args.verbose, run_missing=not args.report_only)
    with open(os.path.join(args.output, "results.md"), encoding="utf-8") as handle:
        print(handle.read())
    return 1 if any(r["status"] == "failed" for r in rows) else 0

