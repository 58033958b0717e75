"""The three analyses end to end: models -> test features -> numbers, tables, figures.

`similarity_report` (Table 1 and the per-bin curve), `feature_means_report_files`
(Figure 1) and `tsne_report` (Figure 4) are what ``tools/analyze.py`` calls; the
``*_figure_for`` helpers are the in-memory parts that training reuses to log the
same figures to TensorBoard (`fdkd_tf.analysis.tensorboard`).
"""

from __future__ import annotations

import os
from typing import Callable, Optional

from fdkd_tf.analysis import figures
from fdkd_tf.analysis.errors import AnalysisError
from fdkd_tf.analysis.feature_means import feature_means_report
from fdkd_tf.analysis.features import extract_features
from fdkd_tf.analysis.projection import match_sizes
from fdkd_tf.analysis.similarity import band_similarity, similarity_table
from fdkd_tf.analysis.sources import ModelSource, load_run_config, sources_from_run
from fdkd_tf.analysis.tsne import joint_tsne, subsample_indices
from fdkd_tf.config import ExperimentConfig, config_to_dict
from fdkd_tf.files import RunDirectory, read_json, write_json, write_text

Progress = Callable[[str], None]


def _silent(message: str) -> None:
    del message


def build_bundle(config: ExperimentConfig):
    """The dataset pipelines of ``config`` (the test split is what analyses read)."""
    from fdkd_tf.data import build_datasets

    return build_datasets(config.data, seed=config.experiment.seed)


def load_models(sources: list[ModelSource], bundle) -> dict:
    """``{name: (model, input key)}`` for each source, built for ``bundle``'s shapes."""
    models = {}
    for source in sources:
        if source.name in models:
            raise AnalysisError(f"two models are both named {source.name!r}; compare two different modalities")
        model = source.load(bundle.input_shapes[source.input_key], bundle.num_classes)
        models[source.name] = (model, source.input_key)
    return models


def pair_features(models: dict, bundle, projection: str = "none", progress: Progress = _silent) -> tuple:
    """Test features of a pair of models, at one size.

    Args:
        models: two entries ``{name: (model, input key)}``, the reference first.
        bundle: the `DatasetBundle`.
        projection: ``none``, ``lstsq`` or a ``.npy`` path (`fdkd_tf.analysis.projection`).
        progress: called with one line per slow step.

    Returns:
        ``(names, (features_a, features_b), labels)`` with equal feature sizes.
    """
    names = tuple(models)
    progress(f"features of {', '.join(names)} on the test split ({bundle.sizes['test']} samples)")
    test, labels = extract_features(models, bundle.test)
    train = None
    if projection == "lstsq":
        progress("features on the train split, to fit the least-squares projection")
        train_features, _ = extract_features(models, bundle.train)
        train = (train_features[names[0]], train_features[names[1]])
    matched = match_sizes(names, (test[names[0]], test[names[1]]), projection, train)
    return names, matched, labels


def similarity_result(names: tuple, features: tuple, config: ExperimentConfig, projection: str = "none") -> dict:
    """`band_similarity` with the config's band split, labelled with the models compared."""
    fd = config.distill.fdcmkd
    result = band_similarity(features[0], features[1], cutoff=fd.cutoff, dc_in_low=fd.dc_in_low)
    return {"dataset": config.data.name, "models": list(names), "split": "test", "projection": projection, **result}


def similarity_figure_for(result: dict):
    """The per-bin similarity curve of a `similarity_result`."""
    title = f"{result['dataset']}: {result['models'][0]} vs {result['models'][1]}"
    return figures.similarity_curve_figure(result, title)


def feature_means_figure_for(report: dict, dataset: str):
    """The Figure 1 plot of a `feature_means_report`."""
    return figures.feature_means_figure(report, f"{dataset}: per-dimension feature means (test split)")


def similarity_report(config: ExperimentConfig, sources: list[ModelSource], output_dir: str,
                      projection: str = "none", pair: Optional[str] = None, progress: Progress = _silent) -> dict:
    """Table 1 for two models: writes similarity.json, similarity.md, similarity_per_bin.png.

    Args:
        config: the experiment config (data, and the band split of ``distill.fdcmkd``).
        sources: the two models, the teacher modality's first.
        output_dir: where the files go (created).
        projection: see `pair_features`.
        pair: how the run's pair was chosen (recorded), or None.
        progress: called with one line per slow step.

    Returns:
        The similarity result, with ``"files"`` listing what was written.
    """
    bundle = build_bundle(config)
    progress(f"loading {', '.join(s.name for s in sources)}")
    models = load_models(sources, bundle)
    names, features, _ = pair_features(models, bundle, projection, progress)
    result = similarity_result(names, features, config, projection)
    result["sources"] = {source.name: source.path for source in sources}
    if pair is not None:
        result["pair"] = pair
    os.makedirs(output_dir, exist_ok=True)
    files = {
        "json": os.path.join(output_dir, "similarity.json"),
        "markdown": os.path.join(output_dir, "similarity.md"),
        "figure": os.path.join(output_dir, "similarity_per_bin.png"),
    }
    result["files"] = files
    write_json(files["json"], result)
    write_text(files["markdown"], similarity_table(result, f"{config.data.name} {names[0]} vs {names[1]}"))
    figures.save_figure(similarity_figure_for(result), files["figure"])
    return result


def feature_means_report_files(config: ExperimentConfig, sources: list[ModelSource], output_dir: str,
                               progress: Progress = _silent) -> dict:
    """Figure 1 for the given models: writes feature_means.json and feature_means.png.

    Feature sizes may differ (each model is drawn over its own dimensions).

    Returns:
        ``{name: {"means", "dim", ...}}`` plus ``"files"``.
    """
    bundle = build_bundle(config)
    progress(f"loading {', '.join(s.name for s in sources)}")
    models = load_models(sources, bundle)
    progress(f"features on the test split ({bundle.sizes['test']} samples)")
    features, _ = extract_features(models, bundle.test)
    report = feature_means_report(features)
    os.makedirs(output_dir, exist_ok=True)
    files = {
        "json": os.path.join(output_dir, "feature_means.json"),
        "figure": os.path.join(output_dir, "feature_means.png"),
    }
    write_json(files["json"], {"dataset": config.data.name, "split": "test", "models": report})
    figures.save_figure(feature_means_figure_for(report, config.data.name), files["figure"])
    return {**report, "files": files}


def tsne_panel(names: tuple, features: tuple, seed: int, perplexity: float, max_samples: Optional[int]) -> dict:
    """One Figure 4 panel: the joint t-SNE of two models' paired test features."""
    indices = subsample_indices(features[0].shape[0], max_samples, seed)
    embedded = joint_tsne([features[0][indices], features[1][indices]], seed=seed, perplexity=perplexity)
    return {"points": dict(zip(names, embedded)), "indices": indices}


def _run_title(run_dir: str, config: ExperimentConfig) -> str:
    """``"fdcmkd (student test 84.5 %)"``, with the directory name when it is not the method."""
    metrics = read_json(RunDirectory(run_dir).metrics) or {}
    accuracy = (metrics.get("student") or {}).get("test_accuracy")
    name = os.path.basename(os.path.normpath(run_dir))
    details = [] if name == config.distill.method else [name]
    if accuracy is not None:
        details.append(f"student test {100 * accuracy:.1f} %")
    return f"{config.distill.method} ({', '.join(details)})" if details else config.distill.method


def tsne_report(run_dirs: list[str], output_dir: str, overrides: Optional[list[str]] = None, seed: int = 0,
                perplexity: float = 30.0, max_samples: Optional[int] = 500, projection: str = "none",
                progress: Progress = _silent) -> dict:
    """Figure 4: teacher and student test features of several runs, side by side.

    Each run is one panel with its own joint t-SNE of the teacher's and the
    distilled student's features (``student.keras``). Writes tsne.png and
    tsne.json (panel titles, models, points per model).

    Args:
        run_dirs: run directories of one modality pair (e.g. none, feat, fdcmkd).
        output_dir: where the files go.
        overrides: ``key=value`` overrides applied to every run's config.
        seed: t-SNE and subsampling seed.
        perplexity: t-SNE perplexity.
        max_samples: test samples per model at most (None = all).
        projection: see `pair_features`.
        progress: called with one line per slow step.

    Returns:
        ``{"panels": [...], "files": {...}}``.

    Raises:
        AnalysisError: when no run is given or the runs use different modality pairs.
    """
    if not run_dirs:
        raise AnalysisError("tsne needs at least one --run-dir")
    configs = [load_run_config(run_dir, overrides) for run_dir in run_dirs]
    reference = configs[0].data
    for run_dir, config in zip(run_dirs[1:], configs[1:]):
        mine = (config.data.name, config.data.teacher, config.data.student)
        theirs = (reference.name, reference.teacher, reference.student)
        if mine != theirs:
            raise AnalysisError(
                f"--run-dir {run_dir} compares {mine[0]} {mine[1]} -> {mine[2]}, but --run-dir "
                f"{run_dirs[0]} compares {theirs[0]} {theirs[1]} -> {theirs[2]}; mismatched modalities: "
                "give runs of one modality pair"
            )
    bundles = {}
    panels, summary = [], []
    for index, (run_dir, config) in enumerate(zip(run_dirs, configs)):
        sources, _ = sources_from_run(run_dir, config, "distilled")
        data_key = repr(config_to_dict(config)["data"])
        if data_key not in bundles:
            bundles[data_key] = build_bundle(config)
        bundle = bundles[data_key]
        progress(f"run {index + 1}/{len(run_dirs)}: {run_dir}")
        models = load_models(sources, bundle)
        names, features, _ = pair_features(models, bundle, projection, progress)
        count = min(features[0].shape[0], max_samples or features[0].shape[0])
        progress(f"fitting t-SNE on {2 * count} points")
        panel = tsne_panel(names, features, seed, perplexity, max_samples)
        panel["title"] = _run_title(run_dir, config)
        panels.append(panel)
        summary.append({"run_dir": run_dir, "title": panel["title"], "method": config.distill.method,
                        "models": list(names), "points_per_model": int(len(panel["indices"]))})
    os.makedirs(output_dir, exist_ok=True)
    files = {"figure": os.path.join(output_dir, "tsne.png"), "json": os.path.join(output_dir, "tsne.json")}
    figures.save_figure(figures.tsne_figure(panels), files["figure"])
    write_json(files["json"], {"seed": seed, "perplexity": perplexity, "projection": projection, "panels": summary})
    return {"panels": summary, "files": files, "embeddings": [panel["points"] for panel in panels]}

