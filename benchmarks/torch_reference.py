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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from step_overhead import (  # noqa: E402
    build_method, clocks, summarize, synthetic_setting, time_steps, write_result,
)
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

NUM_CLASSES = 28


class BasicBlock(nn.Module):
    """ResNet basic block; ``relu_out=False`` returns the residual sum before its ReLU."""

    def __init__(self, in_channels, channels, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)
        self.shortcut = None
        if stride != 1 or in_channels != channels:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm2d(channels))

    def forward(self, x, relu_out=True):
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        out = out + (x if self.shortcut is None else self.shortcut(x))
        return F.relu(out) if relu_out else out


class ResNet18(nn.Module):
    """ResNet-18 whose forward returns the pooled pre-ReLU 512-d feature, as the
    reference code distils it; ``head`` (ReLU -> Linear) gives the logits."""

    def __init__(self, in_channels, num_classes):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        widths, blocks, channels = (64, 128, 256, 512), [], 64
        for index, width in enumerate(widths):
            stride = 1 if index == 0 else 2
            blocks += [BasicBlock(channels, width, stride), BasicBlock(width, width, 1)]
            channels = width
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(512, num_classes)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(module, nn.Linear):
                nn.init.xavier_normal_(module.weight)
                nn.init.zeros_(module.bias)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        for index, block in enumerate(self.blocks):
            x = block(x, relu_out=index < len(self.blocks) - 1)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)  # (batch, 512), before the last ReLU


def classify(linear, features):
    """The reference heads: ReLU -> Linear."""
    return linear(F.relu(features))


def decouple(features):
    """Low (bins 1..128) and high (129..256) bands of 512-d features, DC in neither."""
    spectrum = torch.fft.rfft(features.float(), dim=-1)  # (batch, 257)
    bins = spectrum.shape[-1]
    low_mask = torch.zeros(bins, device=features.device)
    low_mask[1 : 1 + (bins - 1) // 2] = 1.0
    high_mask = torch.zeros(bins, device=features.device)
    high_mask[1 + (bins - 1) // 2 :] = 1.0
    dim = features.shape[-1]
    return torch.fft.irfft(spectrum * low_mask, n=dim), torch.fft.irfft(spectrum * high_mask, n=dim)


def unit(x):
    """The reference "Std": each vector divided by its L2 norm (eps 1e-8)."""
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)


def signed_log(x):
    return torch.sign(x) * torch.log1p(x.abs())


class ReferenceStep:
    """One FD-CMKD step written as the public PyTorch code writes it."""

    def __init__(self, spectrogram_shape, frame_shape, device, bf16_channels_last):
        torch.manual_seed(0)
        self.device = device
        self.student = ResNet18(spectrogram_shape[-1], NUM_CLASSES).to(device)
        self.teacher = ResNet18(frame_shape[-1], NUM_CLASSES).to(device).eval()
        for parameter in self.teacher.parameters():
            parameter.requires_grad_(False)
        heads = {name: nn.Linear(512, NUM_CLASSES) for name in ("task_low", "task_high", "align_low", "align_high")}
        for head in heads.values():
            nn.init.xavier_normal_(head.weight)
            nn.init.zeros_(head.bias)
        self.heads = nn.ModuleDict(heads).to(device)
        parameters = list(self.student.parameters()) + list(self.heads.parameters())
        self.optimizer = torch.optim.SGD(parameters, lr=1e-2, momentum=0.9)
        self.bf16 = bf16_channels_last
        if bf16_channels_last:
            self.student = self.student.to(memory_format=torch.channels_last)
            self.teacher = self.teacher.to(memory_format=torch.channels_last)

    def batch(self, inputs, labels):
        """NHWC numpy batch -> NCHW device tensors."""
        def to_torch(array):
            tensor = torch.from_numpy(np.ascontiguousarray(np.moveaxis(array, -1, 1))).to(self.device)
            return tensor.contiguous(memory_format=torch.channels_last) if self.bf16 else tensor

        return to_torch(inputs["student"]), to_torch(inputs["teacher"]), torch.from_numpy(labels.astype("int64")).to(self.device)

    def step(self, spectrograms, frames, labels):
        self.student.train()
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            with torch.no_grad():
                teacher_features = self.teacher(frames)
            student_features = self.student(spectrograms)
            student_low, student_high = decouple(student_features)
            teacher_low, teacher_high = decouple(teacher_features)
            loss = F.cross_entropy(classify(self.student.head, student_features), labels)
            loss = loss + F.mse_loss(unit(student_low), unit(teacher_low))
            loss = loss + F.mse_loss(signed_log(unit(student_high)), signed_log(unit(teacher_high)))
            for band, student_band, teacher_band in (("low", student_low, teacher_low), ("high", student_high, teacher_high)):
                loss = loss + F.cross_entropy(classify(self.heads[f"task_{band}"], student_band), labels)
                loss = loss + F.cross_entropy(classify(self.heads[f"align_{band}"], student_band), labels)
                loss = loss + F.cross_entropy(classify(self.heads[f"align_{band}"], teacher_band), labels)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return float(loss)  # waits for the step


def time_torch_step(reference, batch):
    started = clocks()
    reference.step(*batch)
    if reference.device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = clocks() - started
    return float(wall), float(cpu)


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
