"""The paper's analyses of trained models: Table 1, Figure 1 and Figure 4.

    python tools/analyze.py similarity --run-dir runs/mfeat-both --output runs/mfeat-both/analysis
    python tools/analyze.py similarity --config configs/mfeat.yaml --teacher-a A.weights.h5 --teacher-b B.weights.h5 --output out/
    python tools/analyze.py feature-means --run-dir runs/mfeat-both --output out/
    python tools/analyze.py tsne --run-dir runs/none --run-dir runs/feat --run-dir runs/fdcmkd --output out/

similarity writes similarity.json, similarity.md and similarity_per_bin.png;
feature-means writes feature_means.json and feature_means.png; tsne writes
tsne.png and tsne.json. Features are read on the test split. The bands follow
distill.fdcmkd.cutoff / dc_in_low of the config (change them with --set).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


from fdkd_tf.cli.errors import guarded
from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.analysis.sources import PAIRS
from fdkd_tf.config import ConfigError


def _progress(message: str) -> None:
    print(f"[analyze] {message}", file=sys.stderr, flush=True)


def _add_model_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="experiment YAML (with --teacher-a and --teacher-b)")
    parser.add_argument("--teacher-a", help=".weights.h5 of model.teacher on data.teacher")
    parser.add_argument("--teacher-b", help=".weights.h5 of model.student on data.student")
    parser.add_argument("--run-dir", help="a run directory written by tools/train.py (instead of --config)")
    parser.add_argument("--pair", choices=PAIRS, default="auto",
                        help="with --run-dir: 'teachers' (both unimodal teachers, needs direction both), "
                             "'distilled' (teacher and student.keras), 'auto' (teachers when both exist)")


def _add_common_arguments(parser: argparse.ArgumentParser, projection: bool = True) -> None:
    parser.add_argument("--output", default=None, help="output directory (default: RUN_DIR/analysis of the first --run-dir)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set distill.fdcmkd.dc_in_low=true")
    if projection:
        parser.add_argument("--projection", default="none", metavar="none|lstsq|FILE.npy",
                            help="map the second model's features to the first's size when they differ "
                                 "(default none: different sizes are an error)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="{similarity,feature-means,tsne}")
    similarity = commands.add_parser("similarity", help="cosine similarity of raw / low / high features (Table 1)")
    _add_model_arguments(similarity)
    _add_common_arguments(similarity)
    means = commands.add_parser("feature-means", help="per-dimension feature means of two modalities (Figure 1)")
    _add_model_arguments(means)
    _add_common_arguments(means, projection=False)
    tsne = commands.add_parser("tsne", help="t-SNE of teacher and student features of several runs (Figure 4)")
    tsne.add_argument("--run-dir", action="append", required=True, dest="run_dirs", metavar="DIR",
                      help="a run directory (repeat for side-by-side panels)")
    _add_common_arguments(tsne)
    tsne.add_argument("--seed", type=int, default=0, help="t-SNE and subsampling seed")
    tsne.add_argument("--perplexity", type=float, default=30.0, help="t-SNE perplexity")
    tsne.add_argument("--max-samples", type=int, default=500, help="test samples per model at most")
    return parser


def _resolve(args):
    """(config, model sources, pair) from --run-dir or --config/--teacher-a/--teacher-b."""
    from fdkd_tf.analysis.sources import load_run_config, sources_from_checkpoints, sources_from_run
    from fdkd_tf.config import load_config

    if args.run_dir:
        if args.config or args.teacher_a or args.teacher_b:
            raise AnalysisError("give either --run-dir or --config with --teacher-a and --teacher-b, not both")
        config = load_run_config(args.run_dir, args.set)
        sources, pair = sources_from_run(args.run_dir, config, args.pair)
        return config, sources, pair
    if not (args.config and args.teacher_a and args.teacher_b):
        raise AnalysisError("give --run-dir DIR, or --config CFG with --teacher-a CKPT and --teacher-b CKPT")
    config = load_config(args.config, args.set)
    return config, sources_from_checkpoints(config, args.teacher_a, args.teacher_b), None


def default_output(args) -> str:
    """``--output``, or ``RUN_DIR/analysis`` of the (first) run directory."""
    if args.output:
        return args.output
    run_dir = args.run_dirs[0] if args.command == "tsne" else args.run_dir
    if not run_dir:
        raise AnalysisError("give --output DIR (there is no --run-dir to write RUN_DIR/analysis into)")
    return os.path.join(run_dir, "analysis")


def run(args) -> dict:
    """Runs one subcommand; returns its summary."""
    from fdkd_tf.analysis import reports

    args.output = default_output(args)

    if args.command == "tsne":
        if args.max_samples < 4:
            raise AnalysisError(f"--max-samples must be at least 4, got {args.max_samples}")
        if args.perplexity <= 0:
            raise AnalysisError(f"--perplexity must be positive, got {args.perplexity}")
        result = reports.tsne_report(args.run_dirs, args.output, args.set, args.seed, args.perplexity,
                                     args.max_samples, args.projection, _progress)
        return {"panels": result["panels"], "files": result["files"]}
    config, sources, pair = _resolve(args)
    if args.command == "similarity":
        result = reports.similarity_report(config, sources, args.output, args.projection, pair, _progress)
        return {"models": result["models"], "similarity": result["similarity"], "claim": result["claim"],
                "files": result["files"]}
    result = reports.feature_means_report_files(config, sources, args.output, _progress)
    return {name: {k: v for k, v in entry.items() if k != "means"} if name != "files" else entry
            for name, entry in result.items()}


@guarded
def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        summary = run(args)
    except (AnalysisError, ConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0

