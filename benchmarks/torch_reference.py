#!/usr/bin/env python
"""The project's FD-CMKD step against the PyTorch reference code's step, alternated in one run.

    pip install -r benchmarks/requirements-torch.txt   # PyTorch, for this benchmark only
    python benchmarks/torch_reference.py --batch-size 8 --repeats 5 --output torch_reference.json

Both sides take one training step of the AVE setting: a ResNet-18 audio student on a
257 x 1004 spectrogram learning from a frozen ResNet-18 visual teacher on 224 x 224
frames, 28 classes, SGD with momentum 0.9, on one fixed synthetic batch.

- **PyTorch** (eager, as the public FD-CMKD code trains): a ResNet-18 written like
  the reference (basic blocks, Kaiming fan-out convolutions, pooled pre-ReLU feature),
  the teacher under ``torch.no_grad`` in eval mode, ``torch.fft.rfft``/``irfft``
  decoupling of the 512-d features, L2 "Std" of the bands, MSE / signed-log MSE band
  losses, the five ReLU -> Linear heads (student, task low/high, shared align
  low/high, the latter also on the teacher's bands), ``zero_grad``, ``backward``,
  ``step``. ``--torch-bf16`` adds bfloat16 autocast and channels_last, the fastest
  setting a PyTorch user would pick (meant for GPUs; slow on most CPUs).
- **fdkd-tf**: `FrequencyDecoupledDistillation` with keras-hub ResNet-18s, compiled
  by Keras (``jit_compile`` auto: off on a CPU), timed as in `step_overhead.py`.

The two alternate step by step (TF, torch, TF, torch, ...) after ``--warmup`` untimed
steps each, so machine load hits both alike; the result is the ratio of median step
times, ``torch / fdkd-tf`` (above 1: the project is faster). Wall and CPU time are
both reported (CPU time is steadier on a shared machine). Results: docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys


import torch  # noqa: E402
from step_overhead import build_method, summarize, synthetic_setting, time_steps, write_result  # noqa: E402
from torch_fdcmkd import NUM_CLASSES, ReferenceStep, time_torch_step  # noqa: E402

def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 (8 with --small)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per side, alternated")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps per side first")
    parser.add_argument("--torch-bf16", action="store_true", help="PyTorch with bfloat16 autocast and channels_last")
    parser.add_argument("--device", default="cpu", help="PyTorch device (the TensorFlow side uses what TF sees)")
    parser.add_argument("--small", action="store_true", help="quick smoke run at toy sizes")
    parser.add_argument("--output", default=None, help="write the results to this JSON file")
    args = parser.parse_args(argv)
    if min(args.repeats, args.warmup) < 1:
        print(f"error: --repeats and --warmup must be at least 1, got {args.repeats}, {args.warmup}", file=sys.stderr)
        return 2
    sizes, spectrogram_shape, frame_shape, dataset = synthetic_setting(args.small, args.batch_size, NUM_CLASSES)
    inputs, labels = next(iter(dataset.take(1).as_numpy_iterator()))

    project = build_method("fdcmkd", spectrogram_shape, frame_shape, NUM_CLASSES, None)
    reference = ReferenceStep(spectrogram_shape, frame_shape, torch.device(args.device), args.torch_bf16)
    torch_batch = reference.batch(inputs, labels)
    time_steps(project, dataset, args.warmup)
    for _ in range(args.warmup):
        time_torch_step(reference, torch_batch)
    seconds = {"fdkd-tf": {"wall": [], "cpu": []}, "torch": {"wall": [], "cpu": []}}
    for repeat in range(args.repeats):
        for clock, values in time_steps(project, dataset, 1).items():
            seconds["fdkd-tf"][clock] += values
        wall, cpu = time_torch_step(reference, torch_batch)
        seconds["torch"]["wall"].append(wall)
        seconds["torch"]["cpu"].append(cpu)
        print(
            f"repeat {repeat + 1}/{args.repeats}: fdkd-tf {seconds['fdkd-tf']['wall'][-1]:.2f} s, torch {wall:.2f} s wall",
            flush=True,
        )
    summaries = {name: summarize(values) for name, values in seconds.items()}
    ratio = {clock: summaries["torch"][clock]["median_ms"] / summaries["fdkd-tf"][clock]["median_ms"] for clock in ("wall", "cpu")}
    torch_name = "PyTorch eager" + (" bf16 autocast + channels_last" if args.torch_bf16 else " fp32")
    print("\n| step | wall median ms | CPU median ms |\n|---|---:|---:|")
    for name, label in (("fdkd-tf", "fdkd-tf (Keras 3, TensorFlow)"), ("torch", torch_name)):
        print(f"| {label} | {summaries[name]['wall']['median_ms']:.0f} | {summaries[name]['cpu']['median_ms']:.0f} |")
    print(f"\ntorch / fdkd-tf: {ratio['wall']:.3f} wall, {ratio['cpu']:.3f} CPU (above 1: fdkd-tf is faster)")
    if args.output:
        write_result(args.output, {
            "settings": {**sizes, "repeats": args.repeats, "warmup": args.warmup, "torch": torch_name, "device": args.device},
            "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "torch": torch.__version__,
                        "torch_threads": torch.get_num_threads()},
            "summaries": summaries,
            "ratio_torch_over_fdkd_tf": ratio,
            "step_seconds": seconds,
        })
    return 0


if __name__ == "__main__":
    sys.exit(main())
