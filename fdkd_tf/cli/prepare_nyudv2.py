"""Prepare NYU-Depth V2 for training: ``python tools/prepare_nyudv2.py --src RAW_DIR --out DATA_DIR``.

RAW_DIR holds the official labelled release and its standard metadata:

  nyu_depth_v2_labeled.mat   the 1,449 labelled RGB-D pairs (MATLAB v7.3 / HDF5)
  splits.mat                 trainNdxs (795) / testNdxs (654), 1-based
  classMapping40.mat         mapClass (894 -> 40) and className (Gupta et al. 2013)

DATA_DIR receives rgb/, depth/ (16-bit PNG, millimetres), label/ (40 classes, 255 =
unlabelled), train.txt, test.txt, classes.txt and prepare_report.json; then train with
--set data.root=DATA_DIR. Rerunning resumes: finished samples are skipped. Samples
that cannot be prepared are listed in the report and left out of the split files.
"""

from __future__ import annotations

import argparse
import os
import sys

from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="directory with the three official files")
    parser.add_argument("--out", required=True, help="prepared directory (created; resumed when it exists)")
    parser.add_argument("--on-bad-sample", choices=("skip", "error"), default="skip",
                        help="skip (list in the report, default) or stop at a sample that cannot be prepared")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from fdkd_tf.data.nyudv2 import REPORT_FILE, prepare_nyudv2

    try:
        report = prepare_nyudv2(args.src, args.out, args.on_bad_sample, progress=not args.no_progress)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(
        f"prepared {report.prepared}, already done {report.already_done}, failed {len(report.failed)} "
        f"of {report.total}; split sizes {report.split_sizes}"
    )
    for name, reason in report.failed.items():
        print(f"  failed {name}: {reason}")
    print(f"report: {os.path.join(os.path.abspath(args.out), REPORT_FILE)}")
    problem = report.nothing_prepared()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0

