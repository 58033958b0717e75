"""Search the distillation weights: ``python tools/tune.py --config FILE --output-dir DIR``.

keras-tuner samples distill.fdcmkd.lambda1 / lambda2 on a log scale (ranges in the
config's ``tune`` section, optionally the learning rate) and keeps the trial with
the best validation accuracy of the student. One teacher is trained (or loaded)
once into DIR/teacher/ and shared by every trial. Writes DIR/trials.csv and
DIR/best.yaml (train it with tools/train.py --config DIR/best.yaml); rerunning
the same command resumes an interrupted search.
"""

from __future__ import annotations

import argparse
import os
import sys


from fdkd_tf.cli.errors import guarded
from fdkd_tf.config import ConfigError, load_config
from fdkd_tf.training.strategy import STRATEGIES

TUNER_KINDS = ("random", "bayesian", "hyperband")


@guarded
def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML, e.g. configs/mfeat.yaml")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config key (repeatable), e.g. --set tune.lambda1_max=1e3")
    parser.add_argument("--tuner", choices=TUNER_KINDS, default="random", help="search algorithm (default: random)")
    parser.add_argument("--max-trials", type=int, default=10, help="most trials in total (default 10)")
    parser.add_argument("--output-dir", required=True, help="search directory (rerun the same command to resume)")
    parser.add_argument("--strategy", choices=STRATEGIES, default=None, help="distribution strategy (default: train.strategy)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None, help="Keras progress output (default: train.verbose)")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config, args.set)
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    from fdkd_tf.tuning import SearchError, format_trials, run_search

    try:
        result = run_search(config, args.output_dir, args.tuner, args.max_trials, strategy=args.strategy, verbose=args.verbose)
    except (SearchError, ConfigError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(format_trials(result))
    print(f"trials: {os.path.join(os.path.abspath(args.output_dir), 'trials.csv')}")
    print(f"best config: {result['best_config']}")
    return 0

