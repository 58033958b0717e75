"""Prepare the CREMA-D release for training: ``python tools/prepare_cremad.py --src RAW_DIR --out DATA_DIR``.

RAW_DIR holds AudioWAV/*.wav and VideoFlash/*.flv of the official release, and the
reference split files train.csv and test.csv (``clip_name,LABEL``, no header; or give
their directory with --splits). Layout in fdkd_tf/data/cremad.py. Writes 22,050 Hz
mono wavs, one JPEG per second and the split files into DATA_DIR; rerunning skips
finished clips. Then train with ``--set data.root=DATA_DIR``.
"""

from __future__ import annotations

from fdkd_tf.cli.clip_preparation import clip_parser, finish
from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    parser = clip_parser(__doc__, "the CREMA-D release (AudioWAV/, VideoFlash/)", "malformed split rows: stop (default) or skip and report")
    parser.add_argument("--splits", default=None, help="directory of train.csv and test.csv (default: --src)")
    args = parser.parse_args(argv)
    from fdkd_tf.data.cremad import prepare_cremad

    return finish(lambda: prepare_cremad(args.src, args.out, splits_dir=args.splits, on_bad=args.on_bad_line, progress=not args.no_progress))
