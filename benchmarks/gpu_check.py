#!/usr/bin/env python
"""One-shot GPU check: the FD-CMKD step on Keras' JAX backend against PyTorch, one JSON.

    bash benchmarks/gpu_wheels.sh               # here, once: wheels the GPU machine lacks
    bash benchmarks/gpu_check.sh                # on the GPU machine (under 8 minutes)
    bash benchmarks/gpu_check.sh --cpu-smoke    # rehearsal on a CPU, toy sizes

The GPU machine has no TensorFlow, so the project's backend-agnostic core (layers,
losses, distillers, the keras-hub ResNet-18) runs on Keras' JAX backend, jitted. The
step is the AVE audio direction at batch 64: ResNet-18 student on a 257 x 1004
spectrogram, frozen ResNet-18 visual teacher on 224 x 224 frames, 28 classes, the five
FD-CMKD heads, SGD with momentum 0.9. Four settings are timed, each on one fixed batch
already on the device, after warm-up steps (JIT compilation, cuDNN autotuning):

- ``jax_float32`` / ``jax_mixed_bfloat16``: `FrequencyDecoupledDistillation` with
  ``train.precision`` float32 / mixed_bfloat16, ``jit_compile=True``;
- ``torch_fp32_eager``: `torch_fdcmkd.ReferenceStep`, the reference code's style;
- ``torch_bf16_channels_last``: the same with bfloat16 autocast and channels_last.

Each gives samples/s and the achieved TFLOP/s: the step's floating-point work counted
once by PyTorch's ``FlopCounterMode`` (matmuls and convolutions, forward and backward;
both frameworks compute the same network) divided by the median step time, against
the GPU's dense peak where the device is known. ``equivalence`` runs one float32 step
of a small FD-CMKD distiller on the accelerator and on the host CPU (JAX) from the same
weights and batch and reports the largest differences of the loss and the updated
weights (TF32 matmuls on the GPU make 1e-3 the expected scale, not 1e-7).

Ratios of interest (goals in issue 11): jax_mixed_bfloat16 over torch_fp32_eager
(>= 2) and over torch_bf16_channels_last (>= 1.2), in samples/s. TensorFlow's own GPU
path cannot run on that machine; the TensorFlow numbers stay the CPU ones
(docs/performance.md).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
for _name in ("tensorflow", "tensorflow_text"):  # absent on the GPU machine: rehearse without it too
    sys.modules[_name] = None

import numpy as np  # noqa: E402

FULL = {"batch_size": 64, "height": 257, "width": 1004, "frame_size": 224, "warmup": 3, "steps": 20}
SMOKE = {"batch_size": 4, "height": 32, "width": 64, "frame_size": 32, "warmup": 1, "steps": 2}
#: dense peak TFLOP/s (no sparsity) of known GPUs: bf16 tensor cores, TF32, plain FP32.
PEAKS = {"H200": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}, "H100": {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}}


def synthetic_batch(sizes: dict, num_classes: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    inputs = {
        "teacher": rng.normal(size=(sizes["batch_size"], sizes["frame_size"], sizes["frame_size"], 3)).astype("float32"),
        "student": rng.normal(size=(sizes["batch_size"], sizes["height"], sizes["width"], 1)).astype("float32"),
    }
    return inputs, rng.integers(0, num_classes, size=sizes["batch_size"]).astype("int32")


def build_jax_distiller(sizes: dict, precision: str, num_classes: int, arch: str = "resnet18"):
    """A compiled FD-CMKD distiller (ResNet-18 both sides) under ``precision``."""
    import keras

    from fdkd_tf.config import DistillConfig, ModelSpec
    from fdkd_tf.distillers import Direction, build_distiller
    from fdkd_tf.models import build_classifier
    from fdkd_tf.training.precision import precision_policy

    keras.utils.set_random_seed(0)
    spec = ModelSpec(arch=arch, hidden_units=[32], feature_dim=16)
    with precision_policy(precision):
        student = build_classifier(spec, (sizes["height"], sizes["width"], 1), num_classes, "student_audio")
        teacher = build_classifier(spec, (sizes["frame_size"], sizes["frame_size"], 3), num_classes, "teacher_visual")
        distiller = build_distiller(DistillConfig(method="fdcmkd"), [Direction("audio", "student", student, "teacher", teacher)], num_classes)
    distiller.compile(optimizer=keras.optimizers.SGD(0.01, momentum=0.9), jit_compile=True)
    return distiller


def time_jax(distiller, inputs, labels, warmup: int, steps: int) -> list[float]:
    """Seconds of each timed ``train_on_batch`` (it returns host floats: the step has finished)."""
    import jax

    inputs = {key: jax.device_put(value) for key, value in inputs.items()}
    labels = jax.device_put(labels)
    for _ in range(warmup):
        distiller.train_on_batch(inputs, labels)
    seconds = []
    for _ in range(steps):
        started = time.perf_counter()
        distiller.train_on_batch(inputs, labels)
        seconds.append(time.perf_counter() - started)
    return seconds


def time_torch(reference, batch, warmup: int, steps: int) -> list[float]:
    from torch_fdcmkd import time_torch_step

    for _ in range(warmup):
        time_torch_step(reference, batch)
    return [time_torch_step(reference, batch)[0] for _ in range(steps)]


def torch_step_flops(sizes: dict, inputs, labels, device) -> int:
    """Floating-point operations of one FD-CMKD step, counted by PyTorch (fp32 eager)."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from torch_fdcmkd import ReferenceStep

    reference = ReferenceStep(inputs["student"].shape[1:], inputs["teacher"].shape[1:], device, False)
    batch = reference.batch(inputs, labels)
    with FlopCounterMode(display=False) as counter:
        reference.step(*batch)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return int(counter.get_total_flops())


def equivalence(accelerator: str, num_classes: int) -> dict:
    """One float32 step of a small distiller on ``accelerator`` and on the CPU (JAX)."""
    import jax

    sizes = {"batch_size": 8, "height": 32, "width": 64, "frame_size": 32}
    inputs, labels = synthetic_batch(sizes, num_classes, seed=1)
    results = {}
    for device_kind in dict.fromkeys([accelerator, "cpu"]):
        with jax.default_device(jax.devices(device_kind)[0]):
            distiller = build_jax_distiller(sizes, "float32", num_classes)
            logs = distiller.train_on_batch(inputs, labels, return_dict=True)
            results[device_kind] = (float(logs["loss"]), [np.asarray(w) for w in distiller.students[0].get_weights()])
    (loss_a, weights_a), (loss_b, weights_b) = results[accelerator], results["cpu"]
    weight_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(weights_a, weights_b))
    return {
        "devices": [accelerator, "cpu"],
        "loss": {accelerator: loss_a, "cpu": loss_b, "abs_diff": abs(loss_a - loss_b)},
        "max_abs_weight_diff": weight_diff,
        "tolerance": 1e-2,
        "passed": abs(loss_a - loss_b) <= 1e-2 * max(1.0, abs(loss_b)) and weight_diff <= 1e-2,
        "note": "the same device twice (no accelerator)" if accelerator == "cpu" else "accelerator against host CPU",
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-smoke", action="store_true", help="toy sizes on the CPU (rehearsal of the GPU run)")
    parser.add_argument("--output", default=None, help="JSON path (default: $OUT/gpu_check.json, else ./gpu_check.json)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per setting")
    parser.add_argument("--only", default="jax_float32,jax_mixed_bfloat16,torch_fp32_eager,torch_bf16_channels_last")
    args = parser.parse_args(argv)
    sizes = dict(SMOKE if args.cpu_smoke else FULL)
    if args.steps:
        sizes["steps"] = args.steps
    output = args.output or os.path.join(os.environ.get("OUT", "."), "gpu_check.json")
    num_classes = 28
    started = time.perf_counter()

    import jax
    import keras
    import torch

    from torch_fdcmkd import ReferenceStep

    accelerator = "cpu" if args.cpu_smoke else jax.default_backend()
    if not args.cpu_smoke and accelerator == "cpu":
        print("error: JAX sees no GPU; run with --cpu-smoke to rehearse on a CPU", file=sys.stderr)
        return 2
    torch_device = torch.device("cuda" if (not args.cpu_smoke and torch.cuda.is_available()) else "cpu")
    device_name = torch.cuda.get_device_name(0) if torch_device.type == "cuda" else platform.processor() or "cpu"
    peak = next((value for key, value in PEAKS.items() if key in device_name), None)
    result = {
        "settings": {**sizes, "num_classes": num_classes, "cpu_smoke": args.cpu_smoke},
        "machine": {
            "device": device_name, "jax_backend": jax.default_backend(), "jax": jax.__version__, "keras": keras.__version__,
            "torch": torch.__version__, "python": platform.python_version(), "peak_tflops": peak,
        },
        "steps": {},
    }
    inputs, labels = synthetic_batch(sizes, num_classes)
    flops = torch_step_flops(sizes, inputs, labels, torch_device)
    result["step_flops"] = flops
    print(f"one step: {flops / 1e12:.3f} TFLOP (PyTorch FlopCounterMode)", flush=True)

    settings = [name.strip() for name in args.only.split(",") if name.strip()]
    for name in settings:
        setting_started = time.perf_counter()
        if name.startswith("jax_"):
            precision = name[len("jax_"):]
            with jax.default_device(jax.devices(accelerator)[0]):
                distiller = build_jax_distiller(sizes, precision, num_classes)
                seconds = time_jax(distiller, inputs, labels, sizes["warmup"], sizes["steps"])
            del distiller
        else:
            bf16 = name == "torch_bf16_channels_last"
            reference = ReferenceStep(inputs["student"].shape[1:], inputs["teacher"].shape[1:], torch_device, bf16)
            seconds = time_torch(reference, reference.batch(inputs, labels), sizes["warmup"], sizes["steps"])
            del reference
        median = float(np.median(seconds))
        entry = {
            "median_s": median,
            "q1_s": float(np.percentile(seconds, 25)),
            "q3_s": float(np.percentile(seconds, 75)),
            "samples_per_s": sizes["batch_size"] / median,
            "achieved_tflops": flops / median / 1e12,
            "seconds": seconds,
            "setting_wall_s": time.perf_counter() - setting_started,
        }
        if peak:
            entry["fraction_of_peak"] = {kind: entry["achieved_tflops"] / value for kind, value in peak.items()}
        result["steps"][name] = entry
        print(f"{name}: {median * 1e3:.1f} ms/step, {entry['samples_per_s']:.1f} samples/s, {entry['achieved_tflops']:.2f} TFLOP/s", flush=True)
    steps = result["steps"]

    def ratio(top, bottom):
        return steps[top]["samples_per_s"] / steps[bottom]["samples_per_s"] if top in steps and bottom in steps else None

    result["ratios"] = {
        "jax_mixed_bfloat16/torch_fp32_eager": ratio("jax_mixed_bfloat16", "torch_fp32_eager"),
        "jax_mixed_bfloat16/torch_bf16_channels_last": ratio("jax_mixed_bfloat16", "torch_bf16_channels_last"),
        "jax_float32/torch_fp32_eager": ratio("jax_float32", "torch_fp32_eager"),
        "jax_mixed_bfloat16/jax_float32": ratio("jax_mixed_bfloat16", "jax_float32"),
    }
    result["equivalence"] = equivalence(accelerator, num_classes)
    result["total_wall_s"] = time.perf_counter() - started
    print(json.dumps({"ratios": result["ratios"], "equivalence": result["equivalence"]}, indent=2))
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    with open(output, "w", encoding="utf-8") as handle:
        json.dump(result, handle, indent=2)
    print(f"wrote {output} ({result['total_wall_s']:.0f} s)")
    return 0 if result["equivalence"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
