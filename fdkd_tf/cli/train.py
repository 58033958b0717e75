"""Train a teacher and distill a student: ``python tools/train.py --config FILE``.

Writes config.yaml, checkpoints/, logs/ (TensorBoard), metrics.json and
student.keras into --output-dir; rerunning on the same directory resumes.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys


from fdkd_tf.cli.errors import guarded
from fdkd_tf.config import ConfigError, load_config
from fdkd_tf.training.strategy import STRATEGIES


def interrupted_line(argv, output_dir: str) -> str:
    """What Ctrl-C prints: the finished epochs and the command that resumes the run."""
    from fdkd_tf.training.checkpointing import progress

    words = list(sys.argv[1:] if argv is None else argv)
    if "--output-dir" not in words and not any(word.startswith("--output-dir=") for word in words):
        words += ["--output-dir", output_dir]
    where = progress(os.path.join(output_dir, "checkpoints"))
    program = "fdkd-train" if os.path.basename(sys.argv[0]) == "fdkd-train" else "python tools/train.py"
    return f"interrupted in {where}; resume with: {program} {shlex.join(words)}"


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML, e.g. configs/mfeat.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable), e.g. --set train.epochs=5")
    parser.add_argument("--output-dir", default=None, help="run directory (default: runs/<experiment.name>-<method>-seed<seed>)")
    parser.add_argument("--strategy", choices=STRATEGIES, default=None, help="distribution strategy (default: train.strategy)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None, help="Keras progress output (default: train.verbose)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    output_dir = args.output_dir or os.path.join(
        "runs", f"{config.experiment.name}-{config.distill.method}-seed{config.experiment.seed}"
    )
    from fdkd_tf.training.experiment import run_experiment
    from fdkd_tf.training.strategy import ClusterError
    from fdkd_tf.training.interruption import install_handler

    install_handler()  # Ctrl-C stops at a batch boundary (fdkd_tf/training/interruption.py)
    try:
        metrics = run_experiment(config, output_dir, strategy=args.strategy, verbose=args.verbose)
    except (ConfigError, ValueError, FileNotFoundError, ClusterError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # one line, no traceback: where it stopped and how to go on
        print(f"\n{interrupted_line(argv, output_dir)}", file=sys.stderr)
        return 130
    print(json.dumps({"teachers": metrics["teachers"], "students": metrics["students"]}, indent=2))
    print(f"run directory: {os.path.abspath(output_dir)}")
    return 0

