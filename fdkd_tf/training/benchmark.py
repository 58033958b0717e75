"""Variant x seed comparisons: one teacher per seed, every variant on it, one table.

A variant is a named list of ``--set`` overrides: a method (``distill.method=kd``)
or a row of the paper's Table 4 (`fdkd_tf.distillers.ablations`).

Each run is an ordinary run directory (``DIR/seed<k>/<method>/``) with its config,
logs and metrics, so every number in the table sits beside what produced it. The
first run of a seed trains that seed's teacher(s); later runs of the seed load
those weights through ``teacher.checkpoint`` so methods are compared on the same
teacher. A run whose ``metrics.json`` exists is not redone; a run that fails is
recorded as failed in the table, and the others go on.
"""

from __future__ import annotations

import csv
import io
import os
import statistics
import traceback

from fdkd_tf.config import load_config
from fdkd_tf.distillers.ablations import TABLE4_ABLATIONS, ablation_overrides
from fdkd_tf.training.experiment import run_experiment
from fdkd_tf.files import read_json, write_text

CSV_FIELDS = (
    "method", "seed", "status", "metric", "teacher_modality", "teacher_test_score",
    "student_modality", "student_val_score", "student_test_score", "best_epoch", "run_dir", "error",
)


def method_variants(methods: list[str]) -> list[tuple[str, list[str]]]:
    """One variant per method name: ``(name, ["distill.method=name"])``."""
    return [(method, [f"distill.method={method}"]) for method in methods]


def ablation_variants() -> list[tuple[str, list[str]]]:
    """The seven rows of Table 4, each an ``fdcmkd`` configuration."""
    return [(row.name, ablation_overrides(row)) for row in TABLE4_ABLATIONS]


def tuned_variant(best_config: str, name: str = "fdcmkd_tuned") -> tuple[str, list[str]]:
    """The weights a ``tools/tune.py`` search chose, as one more ``fdcmkd`` variant.

    Only what the search sampled travels from its ``best.yaml``: lambda1 and lambda2,
    and the learning rates when ``tune.tune_learning_rate`` was on. Its teacher and
    seed stay behind, so each seed's run learns from that seed's teacher like the
    other rows, and the weights were chosen on the validation split alone.
    """
    config = load_config(best_config)
    weights = config.distill.fdcmkd
    overrides = ["distill.method=fdcmkd", f"distill.fdcmkd.lambda1={weights.lambda1!r}", f"distill.fdcmkd.lambda2={weights.lambda2!r}"]
    if config.tune.tune_learning_rate:
        overrides += [f"train.learning_rate={config.train.learning_rate!r}", f"train.final_learning_rate={config.train.final_learning_rate!r}"]
    return name, overrides


def _score_key(summary: dict) -> tuple[str, str]:
    """``("accuracy", "test_accuracy")`` or ``("miou", "test_miou")`` for segmentation."""
    return ("miou", "miou") if "test_miou" in summary else ("accuracy", "accuracy")


def _teacher_weights(run_dir: str, metrics: dict) -> list[str]:
    """``--set`` overrides that make later runs of a seed reuse this run's teachers."""
    overrides = []
    keys = {metrics["teacher"]["modality"]: "teacher.checkpoint"}
    for modality in metrics["teachers"]:
        keys.setdefault(modality, "teacher.reverse_checkpoint")
    for modality, key in keys.items():
        path = os.path.join(run_dir, "checkpoints", f"teacher_{modality}", f"best_{modality}.weights.h5")
        if os.path.exists(path):
            overrides.append(f"{key}={path}")
    return overrides


def _rows(method: str, seed: int, run_dir: str, metrics: dict | None, error: str = "") -> list[dict]:
    if metrics is None:
        return [{"method": method, "seed": seed, "status": "failed", "run_dir": run_dir, "error": error}]
    rows = []
    for modality, student in metrics["students"].items():
        teacher_modality = next(m for m in metrics["teachers"] if m != modality) if len(metrics["teachers"]) > 1 else metrics["teacher"]["modality"]
        metric, key = _score_key(student)
        rows.append({
            "method": method,
            "seed": seed,
            "status": "ok",
            "metric": metric,
            "teacher_modality": teacher_modality,
            "teacher_test_score": metrics["teachers"][teacher_modality][f"test_{key}"],
            "student_modality": modality,
            "student_val_score": student[f"val_{key}"],
            "student_test_score": student[f"test_{key}"],
            "best_epoch": student["best_epoch"],
            "run_dir": run_dir,
            "error": "",
        })
    return rows


def run_benchmark(config_path: str, variants: list[tuple[str, list[str]]], seeds: list[int], output_dir: str, overrides: list[str] = (), verbose: int = 0, progress=print, run_missing: bool = True) -> list[dict]:
    """Runs every variant for every seed and writes ``results.csv`` and ``results.md``.

    Args:
        config_path: experiment YAML.
        variants: ``(name, overrides)`` pairs, from `method_variants` or
            `ablation_variants`; the name is the table row and run folder.
        seeds: experiment seeds.
        output_dir: root of the run directories and tables.
        overrides: ``key=value`` overrides applied to every run.
        verbose: Keras verbosity of each run.
        progress: called with one line per run.
        run_missing: ``False`` starts no run: the tables are written from the runs
            already finished (a comparison run in parts, reported part-way).

    Returns:
        The result rows (also in ``results.csv``).
    """
    rows = []
    total = len(variants) * len(seeds)
    done = 0
    for seed in seeds:
        teacher_overrides: list[str] = []
        for method, variant_overrides in variants:
            done += 1
            run_dir = os.path.join(output_dir, f"seed{seed}", method)
            metrics = read_json(os.path.join(run_dir, "metrics.json"))
            error = ""
            if metrics is None and not run_missing:
                progress(f"[{done}/{total}] seed {seed} {method}: not run yet, left out")
                continue
            if metrics is None:
                progress(f"[{done}/{total}] seed {seed} {method}: running in {run_dir}")
                try:
                    config = load_config(config_path, list(overrides) + teacher_overrides + list(variant_overrides) + [f"experiment.seed={seed}"])
                    metrics = run_experiment(config, run_dir, verbose=verbose)
                except Exception as exc:  # noqa: BLE001 - a failed run is reported, not fatal
                    error = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    write_text(os.path.join(run_dir, "error.txt"), traceback.format_exc())
                    progress(f"[{done}/{total}] seed {seed} {method}: FAILED ({error})")
            else:
                progress(f"[{done}/{total}] seed {seed} {method}: done before, skipped")
            if metrics is not None and not teacher_overrides:
                teacher_overrides = _teacher_weights(run_dir, metrics)
            rows.extend(_rows(method, seed, run_dir, metrics, error))
    write_results(rows, output_dir, [name for name, _ in variants])
    return rows


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    mean = 100 * statistics.fmean(values)
    std = 100 * statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {std:.2f}"


def summary_table(rows: list[dict], methods: list[str]) -> str:
    """Markdown table: per method, each student modality's test score mean ± std (%)
    beside that of the teacher it learned from."""
    ok_rows = [r for r in rows if r["status"] == "ok"]
    modalities = sorted({r["student_modality"] for r in ok_rows})
    teachers = {m: next(r["teacher_modality"] for r in ok_rows if r["student_modality"] == m) for m in modalities}
    metric = next((r["metric"] for r in ok_rows), "accuracy")
    header = ["method"]
    for modality in modalities:
        header += [f"{modality} student (test {metric} %)", f"its teacher: {teachers[modality]}"]
    header += ["runs", "failed"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        ok = [r for r in ok_rows if r["method"] == method]
        failed = len({r["seed"] for r in rows if r["method"] == method and r["status"] == "failed"})
        cells = [method]
        for modality in modalities:
            mine = [r for r in ok if r["student_modality"] == modality]
            cells += [_mean_std([r["student_test_score"] for r in mine]), _mean_std([r["teacher_test_score"] for r in mine])]
        cells += [str(len({r["seed"] for r in ok})), str(failed)]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paired_differences(rows: list[dict], methods: list[str], reference: str) -> str:
    """Markdown table: per method, each student's test score minus ``reference``'s on
    the same seed (and so the same teacher), in points: mean ± std of the per-seed
    differences and the differences themselves. Pairing removes the seed's share of
    the noise (teacher, split of the luck), so a mean difference several stds from 0
    is a gap larger than the noise. Seeds where either run failed are left out."""
    ok = {(r["method"], r["seed"], r["student_modality"]): r["student_test_score"] for r in rows if r["status"] == "ok"}
    modalities = sorted({modality for _, _, modality in ok})
    header = ["method"] + [f"{modality} student: minus {reference} (points)" for modality in modalities] + ["per-seed differences"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for method in methods:
        if method == reference:
            continue
        cells, listed = [method], []
        for modality in modalities:
            seeds = sorted(seed for m, seed, mod in ok if m == method and mod == modality and (reference, seed, modality) in ok)
            diffs = [float(ok[(method, seed, modality)]) - float(ok[(reference, seed, modality)]) for seed in seeds]
            cells.append(_mean_std(diffs) if diffs else "-")
            listed.append(", ".join(f"{100 * d:+.2f}" for d in diffs) or "-")
        lines.append("| " + " | ".join(cells + ["; ".join(listed)]) + " |")
    return "\n".join(lines) + "\n"


def write_results(rows: list[dict], output_dir: str, methods: list[str], references: tuple[str, ...] = ("none", "feat")) -> None:
    """Writes ``results.csv`` (one row per run and student) and ``results.md``: the
    summary table, then the paired differences against each of ``references`` that
    was run."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: row.get(key, "") for key in CSV_FIELDS})
    write_text(os.path.join(output_dir, "results.csv"), buffer.getvalue())
    failures = [r for r in rows if r["status"] == "failed"]
    text = summary_table(rows, methods)
    text += "\nMean ± std over seeds of the test score of each student's own head, at its best validation epoch; beside it, the stage-1 teacher of the other modality it learned from.\n"
    for reference in references:
        if reference in methods and len(methods) > 1:
            text += f"\nPaired per-seed difference against `{reference}` (same seed, same teacher):\n\n" + paired_differences(rows, methods, reference)
    if failures:
        text += "\nFailed runs:\n" + "".join(f"- seed {r['seed']} {r['method']}: {r['error']} ({r['run_dir']}/error.txt)\n" for r in failures)
    write_text(os.path.join(output_dir, "results.md"), text)
