"""Prepare VGGSound-50 for training: ``python tools/prepare_vggsound.py --src RAW_DIR --out DATA_DIR``.

RAW_DIR holds video/<ytid>_<start:06d>.mp4 and vggsound.csv (``ytid,start_sec,label,split``,
no header; other CSVs with --csv, e.g. the 50-class subset's). Layout in
fdkd_tf/data/vggsound.py. Writes 16 kHz mono wavs, one JPEG per second and the split
files into DATA_DIR; rerunning skips finished clips. Then train with
``--set data.root=DATA_DIR``.
"""

from __future__ import annotations

from fdkd_tf.cli.clip_preparation import clip_parser, finish
from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    parser = clip_parser(__doc__, "directory with video/ (and vggsound.csv)", "malformed CSV rows: stop (default) or skip and report")
    parser.add_argument("--csv", action="append", default=None, help="split CSV (repeatable; default: SRC/vggsound.csv)")
    args = parser.parse_args(argv)
    from fdkd_tf.data.vggsound import prepare_vggsound

    return finish(lambda: prepare_vggsound(args.src, args.out, csv_files=args.csv, on_bad=args.on_bad_line, progress=not args.no_progress))
