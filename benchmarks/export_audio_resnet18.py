#!/usr/bin/env python
"""Export parity, size and latency of an audio ResNet-18 student (docs/deployment.md).

No audio dataset exists on the development machines, so the student is a ResNet-18
on the CREMA-D spectrogram shape (257 x 1004 x 1, 6 classes) trained briefly on a
synthetic task: standard-normal noise with a 20-row frequency band raised by 1.5 at a
position set by the class. Accuracy is accuracy on that synthetic task; agreement
(predicted classes equal to Keras') is the figure that carries over to real data.

    python benchmarks/export_audio_resnet18.py --output runs/export-resnet18
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from fdkd_tf.config import ModelSpec  # noqa: E402
from fdkd_tf.export import FORMATS, build_inference_model, export_model  # noqa: E402
from fdkd_tf.models import build_classifier  # noqa: E402

SHAPE, CLASSES = (257, 1004, 1), 6


def synthetic_spectrograms(count: int, seed: int):
    """Noise spectrograms whose class is a raised 20-row frequency band."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, size=count)
    inputs = rng.standard_normal((count, *SHAPE)).astype("float32")
    for index, label in enumerate(labels):
        start = 20 + label * 40
        inputs[index, start : start + 20] += 1.5
    return inputs, labels.astype("int32")


def all_layers(model):
    """Every layer of ``model``, nested models included."""
    for layer in model.layers:
        yield layer
        if isinstance(layer, keras.Model):
            yield from all_layers(layer)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--output", required=True, help="export directory (report.json goes there)")
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--calibration", type=int, default=32, help="int8 calibration samples (seed 1)")
    parser.add_argument("--test", type=int, default=64, help="verification samples (seed 2)")
    parser.add_argument("--latency-samples", type=int, default=10)
    args = parser.parse_args(argv)

    keras.utils.set_random_seed(0)
    student = build_classifier(ModelSpec("resnet18"), SHAPE, CLASSES, name="student_audio")
    classifier = keras.Model(student.input, student.output["logits"])
    classifier.compile(optimizer=keras.optimizers.Adam(1e-3), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    train_inputs, train_labels = synthetic_spectrograms(8 * args.train_steps, seed=0)
    classifier.fit(train_inputs, train_labels, batch_size=8, epochs=1, verbose=2)
    # Re-estimate BatchNorm statistics in one pass (momentum 0) so inference sees the data's.
    calibration, _ = synthetic_spectrograms(args.calibration, seed=1)
    for layer in all_layers(student):
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    student(calibration, training=True)

    test_inputs, test_labels = synthetic_spectrograms(args.test, seed=2)
    report = export_model(
        build_inference_model(student),
        args.output,
        FORMATS,
        test_inputs,
        test_labels,
        representative=calibration,
        held_out_batch=args.test,
        latency_samples=args.latency_samples,
        extra_report={"model": "resnet18 audio student, synthetic task (benchmarks/export_audio_resnet18.py)"},
    )
    print(f"report: {os.path.join(args.output, 'report.json')}")
    return 0 if report else 1


if __name__ == "__main__":
    sys.exit(main())
