"""Export a trained student and verify every exported file against the Keras model.

`export_run` reads a run directory (``config.yaml``, ``student.keras``), checks
everything it needs *before* any work (a trained student, known formats, data for
int8 calibration), writes each format into a staging directory, verifies it, and
only then moves the files into ``DIR/export/``; a failure leaves an earlier export
untouched. `export_model` is the same pipeline for any inference model and any
output directory.

Verification (``report.json`` and `format_report`): for each format, the largest
absolute difference from the Keras logits on a held-out batch of the test split,
the test-set accuracy of the exported model run with the LiteRT interpreter, the
agreement of its predicted classes with Keras, the file size, and the mean latency
of one sample on this CPU.
"""

from __future__ import annotations

import os
import platform
import shutil
import tempfile
import time
from typing import Optional, Sequence

import keras
import numpy as np
import tensorflow as tf
import yaml

from fdkd_tf.config import ConfigError, config_from_dict
from fdkd_tf.export.converters import DEFAULT_INT8_SCALES, FORMATS, check_int8_scales, convert_tflite, save_saved_model
from fdkd_tf.export.inference_model import INPUT_NAME, SERVING_SIGNATURE, WAVEFORM_INPUT_NAME, build_inference_model
from fdkd_tf.export.litert_runner import LiteRTModel, mean_latency_ms
from fdkd_tf.files import RunDirectory, write_json

#: file (or directory) name of each format inside the export directory
FILE_NAMES = {
    "saved_model": "saved_model",
    "tflite": "student.tflite",
    "tflite_fp16": "student_fp16.tflite",
    "tflite_int8": "student_int8.tflite",
}
#: seeded synthetic waveforms that verify a front-end export (no raw audio in the splits)
SYNTHETIC_WAVEFORMS = 32
#: the goals of issue 5
GOALS = {"fp32_max_abs_diff": 1e-4, "int8_accuracy_drop": 0.01, "int8_size_ratio": 0.30}


class ExportError(ValueError):
    """The run directory, the formats or the data do not allow the export asked for."""


def parse_formats(text: str | Sequence[str]) -> list[str]:
    """``"saved_model,tflite"`` -> ``["saved_model", "tflite"]``, rejecting unknown names."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else list(text)
    names = [n for n in names if n]
    unknown = [n for n in names if n not in FORMATS]
    if unknown or not names:
        raise ExportError(
            f"unknown export format {unknown[0] if unknown else '(none given)'!r}; choose from "
            f"{', '.join(FORMATS)} (comma-separated)"
        )
    return list(dict.fromkeys(names))


def _directory_bytes(path: str) -> int:
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(path) for f in files)


def _accuracy(logits: np.ndarray, labels: Optional[np.ndarray]) -> Optional[float]:
    if labels is None:
        return None
    return float(np.mean(np.argmax(logits, axis=-1) == labels))


def _convert_with_fallback(saved_model_dir: str, fmt: str, representative, int8_scales: str, float_layers: Sequence[str]) -> tuple[bytes, bool]:
    """TFLite builtins first; select-TF ops only when a builtin is missing."""
    options = {"int8_scales": int8_scales, "float_layers": float_layers}
    try:
        return convert_tflite(saved_model_dir, fmt, representative, **options), False
    except Exception as error:  # noqa: BLE001 - the converter raises several types
        message = str(error)
        if "select" not in message.lower() and "not supported" not in message.lower() and "flex" not in message.lower():
            raise
    return convert_tflite(saved_model_dir, fmt, representative, allow_select_tf_ops=True, **options), True


def _check_scales(int8_scales: str) -> None:
    """`check_int8_scales`, raising `ExportError` (the CLI's one-line error)."""
    try:
        check_int8_scales(int8_scales)
    except ValueError as error:
        raise ExportError(str(error)) from None


def _place(staged: str, final: str) -> None:
    """Moves a staged file or directory onto ``final`` (replacing an earlier one)."""
    if os.path.isdir(staged):
        previous = None
        if os.path.exists(final):
            previous = tempfile.mkdtemp(prefix=".old-", dir=os.path.dirname(final))
            os.replace(final, os.path.join(previous, "old"))
        os.replace(staged, final)
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
    else:
        os.replace(staged, final)


def export_model(
    model: keras.Model,
    output_dir: str,
    formats: Sequence[str],
    test_inputs: np.ndarray,
    test_labels: Optional[np.ndarray] = None,
    representative: Optional[np.ndarray] = None,
    held_out_batch: int = 64,
    latency_samples: int = 50,
    extra_report: Optional[dict] = None,
    int8_scales: str = DEFAULT_INT8_SCALES,
    float_layers: Sequence[str] = (),
    verbose: bool = True,
) -> dict:
    """Exports an inference model in ``formats`` and verifies each file.

    Args:
        model: from `build_inference_model`; its single input's name decides the
            signature's input name.
        output_dir: where the files and ``report.json`` go (created).
        formats: names from `FORMATS`.
        test_inputs: held-out inputs; the first ``held_out_batch`` are the parity batch.
        test_labels: their labels, or None when only agreement can be measured.
        representative: calibration inputs for ``tflite_int8`` (training split).
        held_out_batch: size of the parity batch.
        latency_samples: timed single-sample calls per format.
        extra_report: entries merged into the report (run, data, notes).
        int8_scales: int8 weight-scale mode, one of `INT8_SCALES`.
        float_layers: layers of ``model`` that stay float32 in the int8 file
            (the audio front end).
        verbose: print progress.

    Returns:
        The report (also written to ``output_dir/report.json``).

    Raises:
        ExportError: an unknown format, or int8 without calibration inputs.
    """
    formats = parse_formats(formats)
    _check_scales(int8_scales)
    if "tflite_int8" in formats and (representative is None or len(representative) == 0):
        raise ExportError(
            "tflite_int8 needs a representative dataset (inputs from the training split) to "
            "calibrate and none is available; export without tflite_int8 or provide the data"
        )
    test_inputs = np.asarray(test_inputs, dtype=np.float32)
    if len(test_inputs) == 0:
        raise ExportError("verification needs at least one held-out input; the test split is empty")
    input_name = model.input.name if model.input.name in (INPUT_NAME, WAVEFORM_INPUT_NAME) else INPUT_NAME
    parity = test_inputs[:held_out_batch]
    @tf.function(reduce_retracing=True)
    def keras_predict(inputs):
        return model(inputs, training=False)["logits"]

    keras_logits = np.concatenate(
        [keras_predict(test_inputs[i : i + 64]).numpy() for i in range(0, len(test_inputs), 64)]
    )
    keras_classes = np.argmax(keras_logits, axis=-1)
    report = {
        "signature": SERVING_SIGNATURE,
        "input": {"name": input_name, "shape": [None, *model.input.shape[1:]], "dtype": "float32"},
        "outputs": ["logits", "probabilities"],
        "held_out_batch": int(len(parity)),
        "test_samples": int(len(test_inputs)),
        "representative_samples": 0 if representative is None else int(len(representative)),
        "cpu": {
            "machine": platform.machine(),
            "threads": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the CPU skews latency
        },
        "keras": {
            "test_accuracy": _accuracy(keras_logits, test_labels),
            "latency_ms": mean_latency_ms(keras_predict, test_inputs, latency_samples),
        },
        "int8_weight_scales": int8_scales,
        "int8_float_layers": list(float_layers),
        "formats": {},
    }
    report.update(extra_report or {})
    os.makedirs(output_dir, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=output_dir)
    try:
        saved_model_dir = os.path.join(staging, FILE_NAMES["saved_model"])
        save_saved_model(model, saved_model_dir, input_name)
        for fmt in formats:
            started = time.time()
            path = os.path.join(staging, FILE_NAMES[fmt])
            entry = {"path": FILE_NAMES[fmt], "select_tf_ops": False}
            if fmt == "saved_model":
                loaded = tf.saved_model.load(saved_model_dir).signatures[SERVING_SIGNATURE]
                call = lambda x, fn=loaded: fn(**{input_name: tf.constant(x)})["logits"].numpy()  # noqa: E731
            else:
                content, entry["select_tf_ops"] = _convert_with_fallback(saved_model_dir, fmt, representative, int8_scales, float_layers)
                with open(path, "wb") as handle:
                    handle.write(content)
                runner = LiteRTModel(path)
                call = lambda x, r=runner: r(x)["logits"]  # noqa: E731
                entry["ops"] = runner.op_names()
                if fmt == "tflite_int8":
                    entry["float_ops"] = runner.float_ops()
            entry["bytes"] = _directory_bytes(path)
            report["formats"][fmt] = entry
            try:
                logits = np.concatenate([call(test_inputs[i : i + 64]) for i in range(0, len(test_inputs), 64)])
            except RuntimeError as error:  # e.g. Flex (select-TF) ops: the LiteRT pip runtime has no Flex delegate
                entry.update(verified=False, error=str(error).splitlines()[-1][:500])
                if verbose:
                    print(f"[export] {fmt}: written but NOT verified: {entry['error']}")
                continue
            entry.update(
                verified=True,
                max_abs_diff=float(np.max(np.abs(logits[: len(parity)] - keras_logits[: len(parity)]))),
                test_accuracy=_accuracy(logits, test_labels),
                agreement=float(np.mean(np.argmax(logits, axis=-1) == keras_classes)),
                latency_ms=mean_latency_ms(call, test_inputs, latency_samples),
            )
            if verbose:
                print(f"[export] {fmt}: {entry['bytes']} bytes, max |diff| {entry['max_abs_diff']:.2e} "
                      f"({time.time() - started:.1f} s)")
        report["goals"] = check_goals(report)
        for fmt in formats:
            _place(os.path.join(staging, FILE_NAMES[fmt]), os.path.join(output_dir, FILE_NAMES[fmt]))
        write_json(os.path.join(output_dir, "report.json"), report)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def check_goals(report: dict) -> dict:
    """Measured values of the three export goals and whether each is met (None: not measured)."""
    formats, keras_accuracy = report["formats"], report["keras"]["test_accuracy"]
    goals = {}
    formats = {name: entry for name, entry in formats.items() if entry.get("verified")}
    if "tflite" in formats:
        diff = formats["tflite"]["max_abs_diff"]
        goals["fp32_max_abs_diff"] = {"value": diff, "limit": GOALS["fp32_max_abs_diff"], "met": diff <= GOALS["fp32_max_abs_diff"]}
    if "tflite_int8" in formats:
        int8 = formats["tflite_int8"]
        if keras_accuracy is not None:
            drop = keras_accuracy - int8["test_accuracy"]
            goals["int8_accuracy_drop"] = {"value": drop, "limit": GOALS["int8_accuracy_drop"], "met": drop <= GOALS["int8_accuracy_drop"]}
        else:  # no labels: agreement of predicted classes stands in for accuracy parity
            drop = 1.0 - int8["agreement"]
            goals["int8_disagreement"] = {"value": drop, "limit": GOALS["int8_accuracy_drop"], "met": drop <= GOALS["int8_accuracy_drop"]}
        if "tflite" in formats:
            ratio = int8["bytes"] / formats["tflite"]["bytes"]
            goals["int8_size_ratio"] = {"value": ratio, "limit": GOALS["int8_size_ratio"], "met": ratio <= GOALS["int8_size_ratio"]}
    return goals


def format_report(report: dict) -> str:
    """The verification table printed by ``tools/export.py``."""
    header = f"{'format':<13} {'size':>12} {'max |diff|':>11} {'test acc':>9} {'agree':>7} {'ms/sample':>10} {'select-TF':>9}"
    lines = [header, "-" * len(header)]
    keras_accuracy = report["keras"]["test_accuracy"]
    lines.append(
        f"{'keras':<13} {'':>12} {'0':>11} {_percent(keras_accuracy):>9} {'100.0%':>7} {report['keras']['latency_ms']:>10.3f} {'':>9}"
    )
    for fmt, entry in report["formats"].items():
        if not entry.get("verified"):
            lines.append(f"{fmt:<13} {entry['bytes']:>12,} not verified: {entry.get('error')}")
            continue
        lines.append(
            f"{fmt:<13} {entry['bytes']:>12,} {entry['max_abs_diff']:>11.2e} {_percent(entry['test_accuracy']):>9} "
            f"{_percent(entry['agreement']):>7} {entry['latency_ms']:>10.3f} {'yes' if entry['select_tf_ops'] else 'no':>9}"
        )
    for name, goal in report.get("goals", {}).items():
        lines.append(f"goal {name}: {goal['value']:.4g} (limit {goal['limit']:g}) -> {'met' if goal['met'] else 'NOT met'}")
    return "\n".join(lines)


def _percent(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


# ------------------------------------------------------------------ run directories


def _load_run(run_dir: str):
    """The run's config and trained student, or an `ExportError` saying what is missing."""
    run = RunDirectory(run_dir)
    if not os.path.isdir(run.root):
        raise ExportError(f"run directory not found: {run.root}")
    if not os.path.isfile(run.config):
        raise ExportError(f"{run.root} is not a run directory (no config.yaml); train one with tools/train.py --output-dir {run_dir}")
    if not os.path.isfile(run.student_model()) or not os.path.isfile(run.metrics):
        raise ExportError(
            f"{run.root} has no trained student (student.keras and metrics.json are written when "
            f"training finishes); finish the run with tools/train.py --output-dir {run_dir}"
        )
    with open(run.config, encoding="utf-8") as handle:
        try:
            config = config_from_dict(yaml.safe_load(handle), run.config)
        except ConfigError as error:
            raise ExportError(f"cannot read the run's config: {error}") from None
    import fdkd_tf  # noqa: F401  (registers the layers student.keras needs)

    try:
        student = keras.saving.load_model(run.student_model())
    except Exception as error:  # noqa: BLE001 - a truncated or foreign file raises many kinds
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ExportError(
            f"cannot load {run.student_model()} ({type(error).__name__}: {reason}); it is truncated or not a Keras "
            f"file: delete it and {os.path.basename(run.metrics)}, then rerun tools/train.py --output-dir {run_dir} "
            "to write it again from the best checkpoint"
        ) from None
    return run, config, student


def audio_frontend_settings(config):
    """The `fdkd_tf.data.AudioFrontendSpec` of the run's student, as its dataset computes
    the audio view (`fdkd_tf.data.registry.dataset_info`), or None when the student is
    not an audio view."""
    from fdkd_tf.data.registry import dataset_info

    frontend = dataset_info(config.data.name).audio_frontend
    if frontend is None or config.data.student != frontend.modality:
        return None
    return frontend


def audio_datasets() -> list[str]:
    """Registered datasets with an audio front end (their audio student takes ``--with-preprocessing``)."""
    from fdkd_tf.data.registry import available_datasets, dataset_info

    return [name for name in available_datasets() if dataset_info(name).audio_frontend is not None]


def make_audio_frontend(kind: str, sample_rate: int, num_samples: Optional[int] = None) -> keras.layers.Layer:
    """`fdkd_tf.layers.audio_frontend.AudioFrontend` of ``kind`` at ``sample_rate`` over
    ``num_samples`` (None: the front end's default length)."""
    from fdkd_tf.layers.audio_frontend import AudioFrontend

    return AudioFrontend(kind=kind, sample_rate=sample_rate, num_samples=num_samples, name="audio_frontend")


def fit_length(waveforms: np.ndarray, samples: int) -> np.ndarray:
    """Each row tiled (or cut) to ``samples``, as the front end does with a clip."""
    if waveforms.shape[1] == samples:
        return waveforms
    reps = -(-samples // waveforms.shape[1])
    return np.tile(waveforms, (1, reps))[:, :samples]


def real_waveforms(spec, config, split: str, count: Optional[int]):
    """``(waveforms, labels, None)`` of a split from the run's prepared data, or
    ``(None, None, why not)`` when the data keep no raw audio or cannot be read."""
    if spec is None or spec.waveforms is None:
        return None, None, f"dataset {config.data.name!r} keeps no raw audio"
    if not config.data.root or not os.path.isdir(config.data.root):
        return None, None, f"the run's data root {config.data.root!r} is not here"
    try:
        waves, labels = spec.waveforms(config.data, split, count)
    except (ValueError, OSError, tf.errors.OpError) as error:
        return None, None, f"the {split} waveforms of {config.data.root} cannot be read: {str(error).splitlines()[0]}"
    if len(waves) == 0:
        return None, None, f"the {split} split of {config.data.root} has no clip"
    return waves, labels, None


def synthetic_waveforms(count: int, samples: int, seed: int = 0) -> np.ndarray:
    """Seeded test waveforms in [-1, 1]: a few sine tones plus noise, ``(count, samples)``.

    Used for the parity checks of a front-end export, where the test split holds
    spectrograms, not raw audio.
    """
    rng = np.random.default_rng(seed)
    time_axis = np.arange(samples, dtype=np.float64) / samples
    waves = []
    for _ in range(count):
        tones = sum(
            rng.uniform(0.1, 0.4) * np.sin(2 * np.pi * rng.uniform(50, samples / 8) * time_axis + rng.uniform(0, 6.3))
            for _ in range(3)
        )
        waves.append(np.clip(tones + 0.05 * rng.normal(size=samples), -1.0, 1.0))
    return np.asarray(waves, dtype=np.float32)


def export_run(
    run_dir: str,
    formats: str | Sequence[str] = FORMATS,
    with_preprocessing: bool = False,
    representative_samples: int = 200,
    waveform_samples: Optional[int] = None,
    representative_waveforms: Optional[np.ndarray] = None,
    frontend: Optional[keras.layers.Layer] = None,
    latency_samples: int = 50,
    int8_scales: str = DEFAULT_INT8_SCALES,
    output_dir: Optional[str] = None,
    verbose: bool = True,
) -> dict:
    """Exports the student of a finished run into ``run_dir/export/`` and verifies it.

    Args:
        run_dir: a run directory written by ``tools/train.py``.
        formats: names from `FORMATS` (a comma-separated string or a list).
        with_preprocessing: put the audio front end (waveform -> log spectrogram)
            inside the exported graph (audio students only).
        representative_samples: training-split inputs used to calibrate int8.
        waveform_samples: waveform length of the signature with the front end
            (default: the front end's ``target_length``, which it tiles clips to).
        representative_waveforms: raw training waveforms ``(n, samples)`` to
            calibrate an int8 export that includes the front end.
        frontend: a front-end layer to use instead of ``AudioFrontend`` (tests).
        latency_samples: timed single-sample calls per format.
        int8_scales: int8 weight-scale mode, one of `INT8_SCALES`.
        output_dir: where the files and ``report.json`` go instead of
            ``run_dir/export/`` (to keep exports with other settings side by side).
        verbose: print progress.

    Returns:
        The report written to ``report.json`` in the export directory.

    Raises:
        ExportError: a run without a trained student, an unknown format, int8
            without calibration data, or preprocessing asked for a non-audio
            student; raised before anything is written.
    """
    formats = parse_formats(formats)
    _check_scales(int8_scales)
    if representative_samples < 1 and "tflite_int8" in formats:
        raise ExportError(f"tflite_int8 needs representative_samples >= 1, got {representative_samples}")
    run, config, student = _load_run(run_dir)
    audio = audio_frontend_settings(config)
    if with_preprocessing and audio is None and frontend is None:
        raise ExportError(
            f"--with-preprocessing puts the audio front end in the graph, but this run's student "
            f"reads {config.data.student!r} of dataset {config.data.name!r}; it applies to the "
            f"audio student of a dataset whose registry entry names an audio front end ({', '.join(audio_datasets())})"
        )
    extra = {
        "run_dir": run.root,
        "dataset": config.data.name,
        "student_modality": config.data.student,
        "with_preprocessing": bool(with_preprocessing),
        "int8_interface": "float32 input and outputs; int8 weights and activations inside; ops without an int8 kernel run in float32 (listed as float_ops)",
    }
    if with_preprocessing:
        # The run's own front end: its kind, rate and the view length data.audio_samples set.
        frontend = frontend or make_audio_frontend(audio.kind, audio.sample_rate, audio.view_samples(config.data))
        if representative_waveforms is not None and len(representative_waveforms) == 0:
            raise ExportError("--representative-waveforms holds no waveform; int8 needs at least one to calibrate")
        # The front end tiles or cuts any clip to its own length; by default the
        # signature takes exactly that many samples.
        waveform_samples = waveform_samples or getattr(frontend, "target_length", None)
        try:
            model = build_inference_model(student, frontend, waveform_samples)
        except ValueError as error:
            raise ExportError(str(error)) from None
        test_inputs, test_labels, why_not = real_waveforms(audio, config, "test", None)
        if test_inputs is not None:
            test_inputs = fit_length(test_inputs, waveform_samples)
            verification = f"the test split's {len(test_inputs)} prepared waveforms ({config.data.root}): accuracy is measured on real audio"
        else:
            test_inputs = synthetic_waveforms(SYNTHETIC_WAVEFORMS, waveform_samples, seed=config.experiment.seed)
            verification = (f"{SYNTHETIC_WAVEFORMS} seeded synthetic waveforms ({why_not}); accuracy is not measured, "
                            "agreement of predicted classes with Keras is")
        representative, calibration = representative_waveforms, "--representative-waveforms"
        if "tflite_int8" in formats and representative is None:
            representative, _, why_not_train = real_waveforms(audio, config, "train", representative_samples)
            if representative is None:
                raise ExportError(
                    f"tflite_int8 with --with-preprocessing calibrates on raw training waveforms and none were found "
                    f"({why_not_train}); pass --representative-waveforms FILE.npy or export int8 without --with-preprocessing"
                )
            calibration = f"the first {len(representative)} prepared training waveforms"
        if representative is not None:
            representative = fit_length(np.asarray(representative, np.float32), waveform_samples)
        extra.update(
            frontend={"class": type(frontend).__name__, **{k: v for k, v in frontend.get_config().items() if k in ("kind", "sample_rate", "num_samples")}},
            waveform_samples=int(waveform_samples),
            verification_inputs=verification,
            **({"representative_source": calibration} if "tflite_int8" in formats else {}),
        )
    else:
        from fdkd_tf.data import build_datasets

        try:
            bundle = build_datasets(config.data, seed=config.experiment.seed)
        except Exception as error:  # noqa: BLE001 - any data failure means no calibration / test data
            need = "int8 calibration (training split) and verification (test split)" if "tflite_int8" in formats else "verification (test split)"
            raise ExportError(f"the run's data ({config.data.name}, root {config.data.root}) is needed for {need}: {error}") from None
        model = build_inference_model(student)
        representative = None
        if "tflite_int8" in formats:
            representative = bundle.representative_inputs("train", "student", representative_samples)
            if len(representative) == 0:
                raise ExportError("tflite_int8 needs training inputs to calibrate, but the run's training split is empty")
        test_inputs, test_labels = _split_arrays(bundle.test, "student")
        extra.update(verification_inputs="the run's test split", representative_split="train")
    return export_model(
        model,
        output_dir or run.path("export"),
        formats,
        test_inputs,
        test_labels,
        representative,
        latency_samples=latency_samples,
        extra_report=extra,
        int8_scales=int8_scales,
        float_layers=[frontend.name] if with_preprocessing else (),
        verbose=verbose,
    )


def _split_arrays(dataset: tf.data.Dataset, key: str) -> tuple[np.ndarray, np.ndarray]:
    """All inputs of one modality and the labels of a batched paired split."""
    inputs, labels = [], []
    for features, label in dataset.as_numpy_iterator():
        inputs.append(features[key])
        labels.append(label)
    return np.concatenate(inputs).astype(np.float32), np.concatenate(labels).astype(np.int64)
