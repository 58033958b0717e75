"""`run_search`: a keras-tuner search of the distillation weights over one shared teacher.

Layout of the search directory ``DIR``::

    DIR/search.json          tuner kind + resolved config (a rerun with another is refused)
    DIR/teacher/             stage-1 run directory of the shared teacher(s) (checkpoints, logs)
    DIR/search/              keras-tuner's project (oracle state, one folder per trial)
    DIR/trials.csv           one row per trial: hyperparameters, objective, epochs, seconds
    DIR/best.yaml            the complete config of the best trial, runnable by tools/train.py

Rerunning the same command resumes: the teacher stage is already finished, the
oracle reloads its trials (``overwrite=False``), a trial that was running when the
search was killed is run again, and finished trials are not.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time

import keras_tuner
import yaml

from fdkd_tf.config import ExperimentConfig, config_from_dict, config_to_dict, dump_config
from fdkd_tf.data import build_datasets
from fdkd_tf.data.caching import apply_input_cache
from fdkd_tf.training.experiment import train_teacher
from fdkd_tf.training.precision import precision_policy
from fdkd_tf.files import RunDirectory, read_json, write_json, write_text
from fdkd_tf.training.seeding import set_seed
from fdkd_tf.training.stages import teacher_checkpoint, teacher_keys
from fdkd_tf.training.strategy import make_strategy
from fdkd_tf.training.teacher_cache import cached_pipelines
from fdkd_tf.tuning.hypermodel import DistillerHyperModel, load_trained_weights, trial_weights_path

TUNER_KINDS = ("random", "bayesian", "hyperband")
#: keys that do not change what a search computes
_IGNORED_KEYS = (("train", "verbose"), ("train", "strategy"), ("data", "cache"))
_TRIAL_INFO = "fdkd_trial.json"


class SearchError(ValueError):
    """The search directory or the search's arguments are unusable; the message says why."""


class _SharedTeacherTuner:
    """Mixin for keras-tuner tuners: times each trial and resumes Hyperband brackets
    from the trial's own weights (the shared teacher is never in a trial checkpoint)."""

    def run_trial(self, trial, *args, **kwargs):
        started = time.time()
        results = super().run_trial(trial, *args, **kwargs)
        epochs = sum(len(getattr(history, "epoch", [])) for history in results)
        write_json(
            os.path.join(self.get_trial_dir(trial.trial_id), _TRIAL_INFO),
            {"seconds": round(time.time() - started, 2), "epochs": epochs},
        )
        return results

    def _build_hypermodel(self, hp):
        values = dict(hp.values)
        resumed_from = values.pop("tuner/trial_id", None)
        model = keras_tuner.Tuner._build_hypermodel(self, hp)  # skip Hyperband's whole-model load
        if resumed_from is not None:
            load_trained_weights(model, trial_weights_path(self._get_checkpoint_fname(resumed_from)))
        return model


class RandomSearchTuner(_SharedTeacherTuner, keras_tuner.RandomSearch):
    """`keras_tuner.RandomSearch` over a shared teacher."""


class BayesianTuner(_SharedTeacherTuner, keras_tuner.BayesianOptimization):
    """`keras_tuner.BayesianOptimization` over a shared teacher."""


class HyperbandTuner(_SharedTeacherTuner, keras_tuner.Hyperband):
    """`keras_tuner.Hyperband` over a shared teacher (``max_epochs = train.epochs``)."""


TUNERS = {"random": RandomSearchTuner, "bayesian": BayesianTuner, "hyperband": HyperbandTuner}


def _search_identity(config: ExperimentConfig, tuner_kind: str) -> dict:
    tree = json.loads(json.dumps(config_to_dict(config)))
    for section, key in _IGNORED_KEYS:
        tree[section].pop(key, None)
    return {"tuner": tuner_kind, "config": tree}


def _check_search_directory(output_dir: str, identity: dict) -> None:
    """Refuses a directory that holds a search of another config or tuner."""
    path = os.path.join(output_dir, "search.json")
    previous = read_json(path)
    if previous is None:
        if os.path.isdir(os.path.join(output_dir, "search")):
            raise SearchError(f"{output_dir}/search exists without search.json; choose a new --output-dir")
        return
    if previous != identity:
        what = "tuner" if previous.get("tuner") != identity["tuner"] else "config"
        raise SearchError(
            f"{output_dir} holds a search with a different {what} ({path}: tuner "
            f"{previous.get('tuner')!r}); rerun with the same --config and --tuner to resume, "
            "or choose a new --output-dir"
        )


def teacher_weights(config: ExperimentConfig, teacher_dir: RunDirectory, modality: str, configured: str | None) -> str:
    """Absolute path of a shared teacher's weights: the configured checkpoint or stage 1's best."""
    if configured:
        return os.path.abspath(configured)
    return os.path.join(teacher_dir.checkpoints(f"teacher_{modality}"), f"best_{modality}.weights.h5")


def run_search(
    config: ExperimentConfig,
    output_dir: str,
    tuner_kind: str = "random",
    max_trials: int = 10,
    strategy: str | None = None,
    verbose: int | None = None,
) -> dict:
    """Searches ``lambda1`` / ``lambda2`` (and optionally the learning rate) of a config.

    Args:
        config: validated config; ``distill.method`` must use ``lambda1`` /
            ``lambda2`` (``fdcmkd``); ``tune`` holds the ranges.
        output_dir: the search directory (created; an existing one is resumed).
        tuner_kind: ``random`` | ``bayesian`` | ``hyperband``.
        max_trials: the most trials to run in total (Hyperband stops there too).
        strategy: overrides ``train.strategy``.
        verbose: overrides ``train.verbose``.

    Returns:
        ``{"objective", "trials": [rows], "best": row, "best_config": path}``.

    Raises:
        SearchError: unknown tuner, a method without lambdas, a bad
            ``max_trials``, or a directory holding another search; raised before
            any training.
    """
    if tuner_kind not in TUNERS:
        raise SearchError(f"unknown tuner {tuner_kind!r}; choose one of {', '.join(TUNER_KINDS)}")
    if isinstance(max_trials, bool) or not isinstance(max_trials, int) or max_trials < 1:
        raise SearchError(f"--max-trials must be a positive integer, got {max_trials!r}")
    if config.distill.method != "fdcmkd":
        raise SearchError(
            f"the search tunes distill.fdcmkd.lambda1 / lambda2, but distill.method is "
            f"{config.distill.method!r}; set distill.method: fdcmkd"
        )
    output_dir = os.path.abspath(output_dir)
    identity = _search_identity(config, tuner_kind)
    _check_search_directory(output_dir, identity)
    os.makedirs(output_dir, exist_ok=True)
    write_json(os.path.join(output_dir, "search.json"), identity)
    verbose = config.train.verbose if verbose is None else verbose
    set_seed(config.experiment.seed, config.experiment.deterministic)
    distribution = make_strategy(strategy or config.train.strategy)
    bundle = build_datasets(config.data, seed=config.experiment.seed, deterministic=config.experiment.deterministic)
    log = print if verbose else (lambda message: None)
    bundle = apply_input_cache(bundle, config.data, os.path.join(output_dir, "cache", "inputs"), log)
    teacher_dir = RunDirectory(os.path.join(output_dir, "teacher"))
    teachers, weights = {}, {}
    with distribution.scope(), precision_policy(config.train.precision):  # the shared teachers
        for input_key in teacher_keys(config):
            configured = teacher_checkpoint(config, input_key)
            teachers[input_key], _ = train_teacher(config, bundle, teacher_dir, input_key, configured, verbose)
            weights[input_key] = teacher_weights(config, teacher_dir, bundle.modalities[input_key], configured)
        hypermodel = DistillerHyperModel(config, bundle, teachers)
        probe = hypermodel.build(keras_tuner.HyperParameters())
        objective_name = f"val_{probe.accuracy_metric(probe.directions[0])}"
        # Every trial distils from the same frozen teachers: their outputs are computed once.
        pipelines, _ = cached_pipelines(
            probe, bundle, config.data, config.distill.teacher_cache, os.path.join(output_dir, "cache", "teacher"), log
        )
        del probe
    tuner_args = dict(
        hypermodel=hypermodel,
        objective=keras_tuner.Objective(objective_name, direction="max"),
        seed=config.experiment.seed,
        directory=output_dir,
        project_name="search",
        overwrite=False,
        distribution_strategy=distribution,  # every trial is built and trained in its scope
    )
    if tuner_kind == "hyperband":
        tuner = TUNERS[tuner_kind](max_epochs=config.train.epochs, factor=config.tune.hyperband_factor, **tuner_args)
    else:
        tuner = TUNERS[tuner_kind](max_trials=max_trials, **tuner_args)
    tuner.oracle.max_trials = max_trials
    tuner.search(
        pipelines["train"](),  # one pipeline reshuffled at every pass: trials are not resumed mid-way
        validation_data=pipelines["val"],
        epochs=config.train.epochs,
        shuffle=False,
        verbose=verbose,
    )
    rows = trial_rows(tuner, objective_name)
    finished = [row for row in rows if row["objective"] is not None]
    if not finished:
        raise SearchError(f"no trial of the search in {output_dir} finished; see the trial errors above")
    best = max(finished, key=lambda row: row["objective"])
    write_text(os.path.join(output_dir, "trials.csv"), trials_csv(rows))
    best_path = os.path.join(output_dir, "best.yaml")
    write_text(best_path, best_config_yaml(config, best, weights, objective_name, len(finished)))
    return {"objective": objective_name, "trials": rows, "best": best, "best_config": best_path}


def trial_rows(tuner, objective_name: str) -> list[dict]:
    """One row per trial, in trial order: id, status, hyperparameters, objective, epochs, seconds."""
    rows = []
    for trial_id, trial in sorted(tuner.oracle.trials.items()):
        info = read_json(os.path.join(tuner.get_trial_dir(trial_id), _TRIAL_INFO)) or {}
        values = {k: v for k, v in trial.hyperparameters.values.items() if not k.startswith("tuner/")}
        rows.append(
            {
                "trial_id": trial_id,
                "status": trial.status,
                **values,
                "objective": None if trial.score is None else float(trial.score),
                "epochs": info.get("epochs"),
                "seconds": info.get("seconds"),
            }
        )
    return rows


def trials_csv(rows: list[dict]) -> str:
    """``trials.csv`` text: the union of the rows' columns, hyperparameters before results."""
    columns = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    tail = ["objective", "epochs", "seconds"]
    columns = [c for c in columns if c not in tail] + tail
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: ("" if row.get(key) is None else row.get(key)) for key in columns})
    return buffer.getvalue()


def best_config_yaml(config: ExperimentConfig, best: dict, weights: dict, objective_name: str, trials: int) -> str:
    """The best trial as a complete config: sampled values set, teachers pointing at the shared weights."""
    from fdkd_tf.tuning.hypermodel import apply_hyperparameters

    tuned = apply_hyperparameters(config, best)
    tuned.teacher.checkpoint = weights["teacher"]
    if "student" in weights:
        tuned.teacher.reverse_checkpoint = weights["student"]
    config_from_dict(yaml.safe_load(dump_config(tuned)), "best.yaml")  # it must load as it is written
    header = (
        f"# Best of {trials} finished trials by {objective_name} = {best['objective']:.4f} "
        f"(trial {best['trial_id']}), written by tools/tune.py.\n"
        "# Train it with: python tools/train.py --config best.yaml --output-dir DIR\n"
    )
    return header + dump_config(tuned)


def format_trials(result: dict) -> str:
    """The summary table ``tools/tune.py`` prints (best trial marked with ``*``)."""
    rows = result["trials"]
    names = [k for k in rows[0] if k not in ("trial_id", "status", "objective", "epochs", "seconds")] if rows else []
    header = f"  {'trial':<6} {'status':<10} " + " ".join(f"{n:>13}" for n in names) + f" {result['objective']:>12} {'epochs':>6} {'seconds':>8}"
    lines = [header, "-" * len(header)]
    for row in rows:
        mark = "*" if row["trial_id"] == result["best"]["trial_id"] else " "
        objective = "" if row["objective"] is None else f"{row['objective']:.4f}"
        lines.append(
            f"{mark} {row['trial_id']:<6} {row['status']:<10} "
            + " ".join(f"{row.get(n, float('nan')):>13.4g}" for n in names)
            + f" {objective:>12} {row['epochs'] if row['epochs'] is not None else '':>6} {row['seconds'] if row['seconds'] is not None else '':>8}"
        )
    return "\n".join(lines)
