"""Prepare the AVE release for training: ``python tools/prepare_ave.py --src RAW_DIR --out DATA_DIR``.

RAW_DIR holds AVE/*.mp4, Annotations.txt, trainSet.txt, valSet.txt and testSet.txt
(layout in fdkd_tf/data/ave.py). Writes 16 kHz mono wavs, one JPEG per second and the
split files into DATA_DIR; rerunning skips finished clips. Then train with
``--set data.root=DATA_DIR``.
"""

from __future__ import annotations

from fdkd_tf.cli.clip_preparation import clip_parser, finish
from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    parser = clip_parser(__doc__, "the unpacked AVE release (AVE_Dataset)", "malformed annotation lines: stop (default) or skip and report")
    args = parser.parse_args(argv)
    from fdkd_tf.data.ave import prepare_ave

    return finish(lambda: prepare_ave(args.src, args.out, on_bad=args.on_bad_line, progress=not args.no_progress))
