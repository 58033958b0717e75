#!/usr/bin/env python
"""Export goals on a distilled audio ResNet-18 student (docs/deployment.md).

No audio benchmark can be downloaded here, so this runs the offline cross-modal task
of `fdkd_tf.data.spoken_digits` (espeak-ng digits in noise, unseen test voices; the
student reads the clip's 129 x 126 log spectrogram, the teacher is the mfeat
pixel-image CNN shown an image of the same digit). The student is a keras-hub
ResNet-18 distilled with FD-CMKD by `run_experiment` on ``configs/spoken_digits.yaml``,
and exported and verified by `export_run`: the code behind ``tools/train.py`` and
``tools/export.py``.

Stages are resumable: the clips (``OUTPUT/data/``), the run (``OUTPUT/run/``), the
export (``OUTPUT/run/export/``), int8 in the other weight-scale modes
(``OUTPUT/int8-<scales>/``) and fp32 + int8 with the front end in the graph, scored
on raw test waveforms (``OUTPUT/with-preprocessing/``; int8 with a quantized front
end in ``OUTPUT/with-preprocessing-int8-frontend/``), are each skipped when already
written.

    apt-get install espeak-ng
    python benchmarks/export_audio_resnet18.py --output runs/spoken-digits
"""

from __future__ import annotations

import argparse
import json
import os
import sys


import keras
import numpy as np

from fdkd_tf.config import load_config
from fdkd_tf.data.errors import MissingProgramError
from fdkd_tf.data.spoken_digits import CLIP_SAMPLES, DATA_FILE, DEFAULT_CLIPS, FRONTEND, prepare_spoken_digits
from fdkd_tf.export import FORMATS, INT8_SCALES, build_inference_model, export_model, export_run
from fdkd_tf.layers import AudioFrontend
from fdkd_tf.training.experiment import run_experiment

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
#: the task's config (the mfeat config with an audio ResNet-18 student)
CONFIG = os.path.join(REPO, "configs", "spoken_digits.yaml")


def task_overrides(data_dir: str, epochs: int) -> list[str]:
    """``--set`` overrides of `CONFIG`: where the clips are and how long the student trains."""
    return [f"data.root={os.path.abspath(data_dir)}", f"train.epochs={epochs}"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="benchmark directory (data/, run/, int8-*/)")
    for split, count in DEFAULT_CLIPS.items():
        parser.add_argument(f"--{split}-clips", type=int, default=count)
    parser.add_argument("--epochs", type=int, default=8, help="student epochs (FD-CMKD, SGD, poly schedule)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--latency-samples", type=int, default=20)
    args = parser.parse_args(argv)

    data_dir = os.path.join(args.output, "data")
    try:
        prepare_spoken_digits(data_dir, {"train": args.train_clips, "val": args.val_clips, "test": args.test_clips}, args.seed)
    except MissingProgramError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    config = load_config(CONFIG, task_overrides(data_dir, args.epochs) + [f"experiment.seed={args.seed}"])
    run_dir = os.path.join(args.output, "run")
    if not os.path.isfile(os.path.join(run_dir, "metrics.json")):
        run_experiment(config, run_dir)
    if not os.path.isfile(os.path.join(run_dir, "export", "report.json")):
        export_run(run_dir, FORMATS, latency_samples=args.latency_samples)
    with open(os.path.join(run_dir, "export", "report.json")) as handle:
        default_scales = json.load(handle)["int8_weight_scales"]
    for scales in INT8_SCALES:  # the other int8 weight-scale modes, for the comparison table
        target = os.path.join(args.output, f"int8-{scales}")
        if scales != default_scales and not os.path.isfile(os.path.join(target, "report.json")):
            export_run(run_dir, ["tflite_int8"], latency_samples=args.latency_samples, int8_scales=scales, output_dir=target)
    export_with_frontend(data_dir, run_dir, args.output, args.latency_samples)
    return 0


def export_with_frontend(data_dir: str, run_dir: str, output: str, latency_samples: int) -> None:
    """fp32 and int8 of front end + student, fed raw test waveforms (what an app feeds).

    `export_run` checks a front-end export on synthetic waveforms, because the paper
    datasets' splits hold spectrograms; here the clips are at hand, so the exported
    graph is scored on the 1 s test waveforms and calibrated on the first training
    ones. int8 is written twice: with the front end kept in float32 (what
    ``tools/export.py --with-preprocessing`` does) and with it quantized too.
    """
    arrays = np.load(os.path.join(data_dir, DATA_FILE))
    train, test = arrays["split"] == 0, arrays["split"] == 2
    student = keras.saving.load_model(os.path.join(run_dir, "student.keras"))
    frontend = AudioFrontend(kind=FRONTEND.kind, sample_rate=FRONTEND.sample_rate, num_samples=CLIP_SAMPLES)
    model = build_inference_model(student, frontend, CLIP_SAMPLES)
    for suffix, formats, float_layers in (("", ["tflite", "tflite_int8"], [frontend.name]),
                                          ("-int8-frontend", ["tflite_int8"], [])):
        target = os.path.join(output, f"with-preprocessing{suffix}")
        if os.path.isfile(os.path.join(target, "report.json")):
            continue
        export_model(
            model, target, formats, arrays["waveform"][test], arrays["label"][test],
            representative=arrays["waveform"][train][:200], latency_samples=latency_samples,
            float_layers=float_layers,
            extra_report={"run_dir": os.path.abspath(run_dir), "with_preprocessing": True,
                          "verification_inputs": "the test split's raw 1 s waveforms", "representative_split": "train"},
        )


if __name__ == "__main__":
    sys.exit(main())
