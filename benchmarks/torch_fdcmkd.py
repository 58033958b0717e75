"""The PyTorch side of the side-by-side benchmarks: FD-CMKD's step as the public code writes it.

No TensorFlow here, so that `gpu_check.py` can import it on a machine without it;
`torch_reference.py` (CPU, against the TensorFlow step) and `gpu_check.py` (GPU,
against the JAX step) both time `ReferenceStep`.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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
    """``(wall, cpu)`` seconds of one step (``float(loss)`` waits for the device)."""
    started = np.array([time.perf_counter(), time.process_time()])
    reference.step(*batch)
    if reference.device.type == "cuda":
        torch.cuda.synchronize()
    wall, cpu = np.array([time.perf_counter(), time.process_time()]) - started
    return float(wall), float(cpu)
