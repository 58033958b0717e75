#!/usr/bin/env python
"""int8 size and accuracy of each weight-scale mode over many trained runs (docs/deployment.md).

Exports every run directory given (fp32 once, then int8 in each mode of
`fdkd_tf.export.INT8_SCALES`) into ``RUN/export-scales/<mode>/`` with `export_run`,
and writes one row per run and mode to ``--output`` (CSV) plus a summary table:
int8 file size as a share of fp32, and test accuracy against the Keras model's.

    python tools/benchmark.py --config configs/mfeat.yaml --methods none,kd,feat,fdcmkd --seeds 3 --output runs/mfeat-benchmark
    python benchmarks/int8_scales.py runs/mfeat-benchmark/seed*/* --output docs/results/int8_scales_mfeat.csv
"""

from __future__ import annotations

import argparse
import csv
import os
import sys


import numpy as np  # noqa: E402

from fdkd_tf.export import INT8_SCALES, export_run  # noqa: E402
from fdkd_tf.files import atomic_path  # noqa: E402

FIELDS = ("run", "scales", "fp32_bytes", "int8_bytes", "size_ratio", "keras_accuracy", "int8_accuracy", "agreement")


def measure(run_dir: str, latency_samples: int) -> list[dict]:
    """One row per int8 mode for one run directory."""
    root = os.path.join(run_dir, "export-scales")
    fp32 = export_run(run_dir, ["tflite"], output_dir=os.path.join(root, "fp32"), latency_samples=latency_samples, verbose=False)
    rows = []
    for scales in INT8_SCALES:
        report = export_run(run_dir, ["tflite_int8"], int8_scales=scales, output_dir=os.path.join(root, scales),
                            latency_samples=latency_samples, verbose=False)
        int8 = report["formats"]["tflite_int8"]
        rows.append({
            "run": run_dir, "scales": scales, "fp32_bytes": fp32["formats"]["tflite"]["bytes"],
            "int8_bytes": int8["bytes"], "size_ratio": round(int8["bytes"] / fp32["formats"]["tflite"]["bytes"], 4),
            "keras_accuracy": report["keras"]["test_accuracy"], "int8_accuracy": int8["test_accuracy"],
            "agreement": int8["agreement"],
        })
    return rows


def summary(rows: list[dict]) -> str:
    """Markdown table: per mode, mean/max size share and mean/worst accuracy change."""
    lines = ["| int8 scales | runs | size / fp32 (mean, max) | accuracy change, points (mean, worst) | agreement (min) |",
             "|---|---|---|---|---|"]
    for scales in INT8_SCALES:
        chosen = [row for row in rows if row["scales"] == scales]
        ratio = np.array([row["size_ratio"] for row in chosen])
        change = 100 * np.array([row["int8_accuracy"] - row["keras_accuracy"] for row in chosen])
        agreement = min(row["agreement"] for row in chosen)
        lines.append(f"| {scales} | {len(chosen)} | {ratio.mean():.1%}, {ratio.max():.1%} | "
                     f"{change.mean():+.2f}, {change.min():+.2f} | {agreement:.1%} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", help="run directories written by tools/train.py or tools/benchmark.py")
    parser.add_argument("--output", required=True, help="CSV file, one row per run and mode")
    parser.add_argument("--latency-samples", type=int, default=5)
    args = parser.parse_args(argv)
    rows = [row for run_dir in args.run_dirs for row in measure(run_dir, args.latency_samples)]
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with atomic_path(args.output) as temporary, open(temporary, "w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    print(summary(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
