"""Prepare the AVE release for training: ``python tools/prepare_ave.py --src RAW_DIR --out DATA_DIR``.

RAW_DIR holds AVE/*.mp4, Annotations.txt, trainSet.txt, valSet.txt and testSet.txt
(layout in fdkd_tf/data/ave.py). Writes 16 kHz mono wavs, one JPEG per second and the
split files into DATA_DIR; rerunning skips finished clips. Then train with
``--set data.root=DATA_DIR``.
"""

from __future__ import annotations

import argparse
import sys

from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="the unpacked AVE release (AVE_Dataset)")
    parser.add_argument("--out", required=True, help="prepared data directory (data.root)")
    parser.add_argument("--on-bad-line", choices=("error", "skip"), default="error", help="malformed annotation lines: stop (default) or skip and report")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from fdkd_tf.data.errors import DataFormatError
    from fdkd_tf.data.ave import prepare_ave

    try:
        report = prepare_ave(args.src, args.out, on_bad=args.on_bad_line, progress=not args.no_progress)
    except DataFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    problem = report.nothing_prepared()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0

