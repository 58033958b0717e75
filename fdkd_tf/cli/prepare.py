"""``fdkd-prepare DATASET --src RAW --out DATA``: turn an official release into the prepared layout.

DATASET is one of ave, cremad, vggsound, crisismmd, nyudv2; the other arguments are
those of ``python tools/prepare_<dataset>.py`` (``fdkd-prepare DATASET --help``).
"""

from __future__ import annotations

import importlib
import sys

DATASETS = ("ave", "cremad", "vggsound", "crisismmd", "nyudv2")


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    dataset, rest = argv[0], argv[1:]
    if dataset not in DATASETS:
        print(f"error: unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}", file=sys.stderr)
        return 2
    return importlib.import_module(f"fdkd_tf.cli.prepare_{dataset}").main(rest)
