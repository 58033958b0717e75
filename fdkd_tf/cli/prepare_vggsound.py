"""Prepare VGGSound-50 for training: ``python tools/prepare_vggsound.py --src RAW_DIR --out DATA_DIR``.

RAW_DIR holds video/<ytid>_<start:06d>.mp4 and vggsound.csv (``ytid,start_sec,label,split``,
no header; other CSVs with --csv, e.g. the 50-class subset's). Layout in
fdkd_tf/data/vggsound.py. Writes 16 kHz mono wavs, one JPEG per second and the split
files into DATA_DIR; rerunning skips finished clips. Then train with
``--set data.root=DATA_DIR``.
"""

from __future__ import annotations

import argparse
import sys

from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help="directory with video/ (and vggsound.csv)")
    parser.add_argument("--out", required=True, help="prepared data directory (data.root)")
    parser.add_argument("--csv", action="append", default=None, help="split CSV (repeatable; default: SRC/vggsound.csv)")
    parser.add_argument("--on-bad-line", choices=("error", "skip"), default="error", help="malformed CSV rows: stop (default) or skip and report")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    from fdkd_tf.data.errors import DataFormatError
    from fdkd_tf.data.vggsound import prepare_vggsound

    try:
        report = prepare_vggsound(args.src, args.out, csv_files=args.csv, on_bad=args.on_bad_line, progress=not args.no_progress)
    except DataFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    problem = report.nothing_prepared()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0

