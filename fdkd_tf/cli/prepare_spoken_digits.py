"""Generate the spoken-digit dataset: ``python tools/prepare_spoken_digits.py --out DATA_DIR``.

espeak-ng (apt-get install espeak-ng) says the ten digits with unseen-speaker splits,
in noise (fdkd_tf/data/spoken_digits.py); DATA_DIR receives spoken_digits.npz (written
once; a rerun reuses it). Then train with
``python tools/train.py --config configs/spoken_digits.yaml --set data.root=DATA_DIR``.
"""

from __future__ import annotations

import argparse
import sys

from fdkd_tf.cli.errors import guarded


@guarded
def main(argv=None) -> int:
    from fdkd_tf.data.spoken_digits import DEFAULT_CLIPS

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True, help="dataset directory (data.root)")
    for split, count in DEFAULT_CLIPS.items():
        parser.add_argument(f"--{split}-clips", type=int, default=count, help=f"clips in the {split} split (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="voices, offsets, noise and paired images (default %(default)s)")
    args = parser.parse_args(argv)
    from fdkd_tf.data.errors import MissingProgramError
    from fdkd_tf.data.spoken_digits import prepare_spoken_digits

    per_split = {"train": args.train_clips, "val": args.val_clips, "test": args.test_clips}
    try:
        path = prepare_spoken_digits(args.out, per_split, args.seed)
    except (MissingProgramError, OSError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"spoken digits: {path}")
    return 0
