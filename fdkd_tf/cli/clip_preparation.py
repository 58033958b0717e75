"""What the audio-visual preparation commands (AVE, CREMA-D, VGGSound) share: their
common arguments and the end of a run (summary, one-line errors, exit code)."""

from __future__ import annotations

import argparse
import sys
from typing import Callable


def clip_parser(doc: str, src_help: str, bad_line_help: str) -> argparse.ArgumentParser:
    """``--src``, ``--out``, ``--on-bad-line`` and ``--no-progress``; the caller adds its own."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True, help=src_help)
    parser.add_argument("--out", required=True, help="prepared data directory (data.root)")
    parser.add_argument("--on-bad-line", choices=("error", "skip"), default="error", help=bad_line_help)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def finish(prepare: Callable) -> int:
    """Runs ``prepare()`` (a `PreparationReport`), prints its summary; 2 for bad
    annotations, 1 when no clip could be prepared, else 0."""
    from fdkd_tf.data.errors import DataFormatError

    try:
        report = prepare()
    except DataFormatError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report.summary())
    problem = report.nothing_prepared()
    if problem:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    return 0
