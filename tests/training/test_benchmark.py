"""Method x seed comparisons: shared teacher per seed, resumable, failures reported."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import yaml

from fdkd_tf.training import benchmark

FAST = [
    "teacher.epochs=1", "train.epochs=1", "train.verbose=0",
    "model.teacher.filters=[8]", "model.teacher.feature_dim=16",
    "model.student.hidden_units=[16]", "model.student.feature_dim=16",
]


def test_benchmark_shares_teacher_resumes_and_reports_failures(repo_root, tmp_path, monkeypatch):
    config = os.path.join(repo_root, "configs", "mfeat.yaml")
    real_run = benchmark.run_experiment

    def failing_for_feat(cfg, run_dir, **kwargs):
        if cfg.distill.method == "feat":
            raise RuntimeError("boom")
        return real_run(cfg, run_dir, **kwargs)

    monkeypatch.setattr(benchmark, "run_experiment", failing_for_feat)
    rows = benchmark.run_benchmark(config, benchmark.method_variants(["none", "kd", "feat"]), [0], str(tmp_path), FAST, progress=lambda _: None)
    assert [(r["method"], r["status"]) for r in rows] == [("none", "ok"), ("kd", "ok"), ("feat", "failed")]
    assert "boom" in rows[2]["error"] and (tmp_path / "seed0" / "feat" / "error.txt").is_file()

    # The kd run loaded the teacher the none run trained: same teacher accuracy, no teacher stage.
    kd_config = yaml.safe_load((tmp_path / "seed0" / "kd" / "config.yaml").read_text())
    assert kd_config["teacher"]["checkpoint"].endswith(os.path.join("teacher_pix", "best_pix.weights.h5"))
    assert not (tmp_path / "seed0" / "kd" / "checkpoints" / "teacher_pix").exists()
    assert rows[0]["teacher_test_score"] == pytest.approx(rows[1]["teacher_test_score"])
    assert rows[0]["metric"] == "accuracy"

    with open(tmp_path / "results.csv") as handle:
        table = list(csv.DictReader(handle))
    assert [r["status"] for r in table] == ["ok", "ok", "failed"]
    markdown = (tmp_path / "results.md").read_text()
    assert "| none |" in markdown and "Failed runs" in markdown and "boom" in markdown

    # Rerun: finished runs are skipped, the failed one is retried.
    calls = []
    monkeypatch.setattr(benchmark, "run_experiment", lambda cfg, run_dir, **kw: calls.append(cfg.distill.method) or real_run(cfg, run_dir, **kw))
    rows = benchmark.run_benchmark(config, benchmark.method_variants(["none", "kd", "feat"]), [0], str(tmp_path), FAST, progress=lambda _: None)
    assert calls == ["feat"] and all(r["status"] == "ok" for r in rows)

    # Report part-way: no run starts, runs not made yet are left out of the tables.
    calls.clear()
    rows = benchmark.run_benchmark(config, benchmark.method_variants(["none", "kd", "feat", "dist"]), [0, 1], str(tmp_path), FAST, progress=lambda _: None, run_missing=False)
    assert calls == [] and [r["method"] for r in rows] == ["none", "kd", "feat"]
    markdown = (tmp_path / "results.md").read_text()
    assert "| dist | - | - | 0 | 0 |" in markdown and "against `none`" in markdown and "against `feat`" in markdown


def test_summary_table_mean_and_std():
    rows = [
        {"method": "none", "seed": s, "status": "ok", "metric": "accuracy", "student_modality": "fou", "teacher_modality": "pix", "student_test_score": a, "teacher_test_score": 0.9}
        for s, a in enumerate([0.80, 0.82, 0.84])
    ]
    table = benchmark.summary_table(rows, ["none"])
    assert "82.00 ± 2.00" in table and "90.00 ± 0.00" in table


def test_paired_differences_are_per_seed_gaps_to_the_reference():
    scores = {"none": [0.80, 0.85, 0.83], "fdcmkd": [0.82, 0.86, 0.87]}
    rows = [
        {"method": m, "seed": s, "status": "ok", "student_modality": "audio", "student_test_score": a}
        for m, values in scores.items() for s, a in enumerate(values)
    ]
    rows.append({"method": "kd", "seed": 0, "status": "failed"})
    table = benchmark.paired_differences(rows, ["none", "fdcmkd", "kd"], "none")
    diffs = 100 * (np.array(scores["fdcmkd"]) - np.array(scores["none"]))
    assert f"{diffs.mean():.2f} ± {diffs.std(ddof=1):.2f}" in table
    assert "+2.00, +1.00, +4.00" in table
    assert "| kd | - | - |" in table and "| none |" not in table


def test_ablation_variants_are_the_seven_table4_rows():
    variants = benchmark.ablation_variants()
    assert [name for name, _ in variants][0] == "baseline" and len(variants) == 7
    assert all("distill.method=fdcmkd" in overrides for _, overrides in variants)
    assert "distill.fdcmkd.log=true" in dict(variants)["full"]


def test_tuned_variant_carries_the_searched_weights_and_nothing_else(repo_root, tmp_path):
    """A search's best.yaml points at its own teacher and seed; the variant takes only lambda1/lambda2 (and the
    learning rates when they were searched), so every seed's run keeps its own teacher."""
    from fdkd_tf.config import dump_config, load_config

    mfeat = os.path.join(repo_root, "configs", "mfeat.yaml")
    searched = load_config(mfeat, ["distill.fdcmkd.lambda1=123.5", "distill.fdcmkd.lambda2=0.25", "experiment.seed=7",
                                   "train.learning_rate=0.05", "teacher.epochs=3"])
    (tmp_path / "best.yaml").write_text(dump_config(searched))
    name, overrides = benchmark.tuned_variant(str(tmp_path / "best.yaml"))
    run = load_config(mfeat, ["distill.method=kd", *overrides, "experiment.seed=1"])
    assert name == "fdcmkd_tuned" and run.distill.method == "fdcmkd"
    assert (run.distill.fdcmkd.lambda1, run.distill.fdcmkd.lambda2) == (123.5, 0.25)
    base = load_config(mfeat)
    assert (run.experiment.seed, run.teacher.epochs, run.train.learning_rate) == (1, base.teacher.epochs, base.train.learning_rate)

    searched.tune.tune_learning_rate = True
    (tmp_path / "best.yaml").write_text(dump_config(searched))
    run = load_config(mfeat, benchmark.tuned_variant(str(tmp_path / "best.yaml"))[1])
    assert (run.train.learning_rate, run.train.final_learning_rate) == (0.05, searched.train.final_learning_rate)
