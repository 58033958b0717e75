"""Prepare CrisisMMD v2.0 for training: ``python tools/prepare_crisismmd.py --src RAW --out DATA``.

RAW holds the official release as downloaded and unpacked:

    RAW/CrisisMMD_v2.0/data_image/<event>/<date>/<tweet_id>_<n>.jpg
    RAW/CrisisMMD_v2.0/annotations/<event>_final_data.tsv
    RAW/crisismmd_datasplit_all/task_{informative,humanitarian}_text_img_{train,dev,test}.tsv

DATA receives data_image/ (every image checked to decode, JPEG), the split files
<task>_{train,dev,test}.tsv that data.root points the loader at, unreadable_images.txt
and prepare_report.json. Rerunning skips images already written.
"""

from __future__ import annotations

import argparse
import os
import sys


from fdkd_tf.cli.errors import guarded
from fdkd_tf.config import ConfigError
from fdkd_tf.data.crisismmd import TASK_CLASSES


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="the unpacked official release (see above)")
    parser.add_argument("--out", required=True, help="prepared dataset directory (data.root)")
    parser.add_argument("--tasks", default=",".join(TASK_CLASSES), help="comma-separated tasks (default: %(default)s)")
    parser.add_argument(
        "--on-bad-sample",
        choices=("error", "skip"),
        default="error",
        help="a malformed split line (wrong field count, unknown label): stop (error) or leave it out and count it (skip)",
    )
    parser.add_argument("--workers", type=int, default=None, help="image threads (default: CPU count)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    tasks = tuple(task for task in args.tasks.split(",") if task)
    from fdkd_tf.data.crisismmd import REPORT_FILE, UNREADABLE_FILE, prepare_crisismmd

    try:
        report = prepare_crisismmd(
            args.src,
            args.out,
            tasks=tasks,
            on_bad_sample=args.on_bad_sample,
            progress=not args.no_progress,
            workers=args.workers,
        )
    except (ConfigError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for task, splits in report["tasks"].items():
        for split, counts in splits.items():
            note = "" if counts["written"] == counts["official"] else f" (official split: {counts['official']})"
            print(f"{task} {split}: {counts['written']} pairs written of {counts['lines']}{note}")
    print(f"unreadable images: {report['num_unreadable_images']} (listed in {os.path.join(args.out, UNREADABLE_FILE)})")
    print(f"skipped split lines: {report['num_skipped_lines']}; report: {os.path.join(args.out, REPORT_FILE)}")
    if report["images"]["total"] and report["num_unreadable_images"] == report["images"]["total"]:
        print(f"error: none of the {report['images']['total']} images could be read (listed in {UNREADABLE_FILE}); "
              "check that --src is the unpacked official release", file=sys.stderr)
        return 1
    return 0

