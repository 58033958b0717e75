"""``fdkd-prepare DATASET ...``: turn an official release into the prepared layout (or generate one).

DATASET is a dataset with a preparation program (``fdkd_tf/cli/prepare_<dataset>.py``):
ave, cremad, vggsound, crisismmd, nyudv2 (``--src RAW --out DATA``) or spoken_digits
(``--out DATA``, generated with espeak-ng); the other arguments are those of
``python tools/prepare_<dataset>.py`` (``fdkd-prepare DATASET --help``).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

PREFIX = "prepare_"


def datasets() -> list[str]:
    """Datasets with a preparation program: the ``prepare_<name>`` modules of this package."""
    import fdkd_tf.cli

    names = (module.name for module in pkgutil.iter_modules(fdkd_tf.cli.__path__))
    return sorted(name[len(PREFIX):] for name in names if name.startswith(PREFIX))


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if argv else 2
    dataset, rest = argv[0], argv[1:]
    if dataset not in datasets():
        print(f"error: unknown dataset {dataset!r}; choose one of {', '.join(datasets())}", file=sys.stderr)
        return 2
    return importlib.import_module(f"fdkd_tf.cli.{PREFIX}{dataset}").main(rest)
