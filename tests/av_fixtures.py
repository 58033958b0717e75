"""Tiny audio-visual releases in the official layouts (AVE, CREMA-D, VGGSound-50).

Synthetic clips: a tone per class plus noise (wav or AAC), and a small video whose
frames change colour every second (mp4 with MPEG-4 video, or FLV as CREMA-D ships),
encoded with PyAV. Each generator returns what it wrote so tests can compare.
"""

from __future__ import annotations

import os
import wave

import numpy as np

VIDEO_SIZE = (40, 32)  # width, height (even, as yuv420p needs)
VIDEO_FPS = 4


def tone(seconds: float, rate: int, frequency: float, seed: int = 0) -> np.ndarray:
    """A float32 sine at ``frequency`` with a little noise, amplitude below 0.5."""
    rng = np.random.default_rng(seed)
    time = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * frequency * time) + 0.02 * rng.standard_normal(time.size)).astype(np.float32)


def write_wav_file(path: str, samples: np.ndarray, rate: int, channels: int = 1) -> None:
    """16-bit PCM wav (``samples`` mono, duplicated when ``channels`` > 1)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pcm = np.clip(np.round(samples * 32767), -32768, 32767).astype("<i2")
    pcm = np.repeat(pcm[:, None], channels, axis=1).reshape(-1)
    with wave.open(path, "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())


def write_video(path: str, seconds: float, audio: np.ndarray | None = None, audio_rate: int = 22050, seed: int = 0) -> None:
    """A small video (mp4: MPEG-4 + AAC; flv: FLV1 + AAC) of ``seconds`` at 4 fps.

    Frame colour changes every second, so frames taken at 1 fps differ.
    """
    import av

    os.makedirs(os.path.dirname(path), exist_ok=True)
    codec = "flv" if path.endswith(".flv") else "mpeg4"
    rng = np.random.default_rng(seed)
    width, height = VIDEO_SIZE
    with av.open(path, "w") as container:
        video = container.add_stream(codec, rate=VIDEO_FPS)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=audio_rate)
            sound.layout = "mono"
        colour = rng.integers(0, 256, 3)
        for index in range(int(seconds * VIDEO_FPS)):
            if index % VIDEO_FPS == 0:
                colour = rng.integers(0, 256, 3)  # a new colour every second
            image = np.broadcast_to(colour.astype(np.uint8), (height, width, 3)).copy()
            image[: height // 2, : width // 2] = 255 - image[: height // 2, : width // 2]
            for packet in video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        if sound is not None:
            frame = av.AudioFrame.from_ndarray(audio[None, :].astype(np.float32), format="flt", layout="mono")
            frame.sample_rate = audio_rate
            for packet in sound.encode(frame):
                container.mux(packet)
            for packet in sound.encode(None):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)


def make_cremad_release(root: str, train_per_class: int = 2, test_per_class: int = 1) -> dict:
    """``AudioWAV/``, ``VideoFlash/`` and ``train.csv``/``test.csv`` for all 6 emotions.

    Returns:
        ``{"train": [(clip, label)], "test": [...]}``.
    """
    from fdkd_tf.data.cremad import CLASS_NAMES

    splits = {"train": [], "test": []}
    actor = 1001
    for index, label in enumerate(CLASS_NAMES):
        for split, count in (("train", train_per_class), ("test", test_per_class)):
            for _ in range(count):
                clip = f"{actor}_DFA_{label}_XX"
                actor += 1
                write_wav_file(os.path.join(root, "AudioWAV", f"{clip}.wav"), tone(1.2, 16000, 200 + 100 * index, actor), 16000)
                write_video(os.path.join(root, "VideoFlash", f"{clip}.flv"), 2.0, seed=actor)
                splits[split].append((clip, label))
    for split, rows in splits.items():
        with open(os.path.join(root, f"{split}.csv"), "w", encoding="utf-8") as handle:
            handle.writelines(f"{clip},{label}\n" for clip, label in rows)
    return splits


def make_ave_release(root: str, num_classes: int = 3, per_split: dict | None = None) -> dict:
    """``AVE/*.mp4``, ``Annotations.txt`` (with header) and the three split files.

    Uses the first ``num_classes`` official categories; every video is 4 s with an
    annotated segment of 2-3 s.

    Returns:
        ``{"classes": [...], "train"|"val"|"test": [(clip, category)]}``.
    """
    from fdkd_tf.data.ave import CLASS_NAMES, FIELDS

    per_split = per_split or {"train": 2, "val": 1, "test": 1}
    written = {"classes": list(CLASS_NAMES[:num_classes])}
    header = "&".join(FIELDS) + "\n"
    annotations = [header]
    serial = 0
    for split, count in per_split.items():
        lines = [header]
        written[split] = []
        for index, category in enumerate(CLASS_NAMES[:num_classes]):
            for _ in range(count):
                serial += 1
                video_id = f"vid{serial:03d}Xy-_"
                start, end = serial % 2, 3
                write_video(
                    os.path.join(root, "AVE", f"{video_id}.mp4"), 4.0, tone(4.0, 22050, 300 + 150 * index, serial), 22050, seed=serial
                )
                line = f"{category}&{video_id}&good&{start}&{end}\n"
                lines.append(line)
                annotations.append(line)
                written[split].append((f"{video_id}_{start}_{end}", category))
        with open(os.path.join(root, {"train": "trainSet.txt", "val": "valSet.txt", "test": "testSet.txt"}[split]), "w") as handle:
            handle.writelines(lines)
    with open(os.path.join(root, "Annotations.txt"), "w") as handle:
        handle.writelines(annotations)
    return written


def make_vggsound_release(root: str, num_classes: int = 3, train_per_class: int = 2, test_per_class: int = 1) -> dict:
    """``vggsound.csv`` (no header, a quoted label with a comma) and ``video/*.mp4`` (3 s).

    Returns:
        ``{"classes": sorted labels, "train"|"test": [(clip, label)]}``.
    """
    labels = ["dog barking", "playing violin, fiddle", "rain"][:num_classes]
    written = {"classes": sorted(labels), "train": [], "test": []}
    rows, serial = [], 0
    for index, label in enumerate(labels):
        for split, count in (("train", train_per_class), ("test", test_per_class)):
            for _ in range(count):
                serial += 1
                ytid, start = f"yt{serial:02d}-_aB", 10 * serial
                clip = f"{ytid}_{start:06d}"
                write_video(os.path.join(root, "video", f"{clip}.mp4"), 3.0, tone(3.0, 16000, 250 + 120 * index, serial), 16000, seed=serial)
                quoted = f'"{label}"' if "," in label else label
                rows.append(f"{ytid},{start},{quoted},{split}\n")
                written[split].append((clip, label))
    with open(os.path.join(root, "vggsound.csv"), "w") as handle:
        handle.writelines(rows)
    return written


def one_distillation_step(bundle, direction: str = "both") -> dict:
    """Builds ResNet-18 teachers/students for the bundle's views and runs one FD-CMKD step.

    With ``direction="both"`` the audio student learns from the visual teacher and
    the visual student from the audio teacher in the same step.

    Returns:
        The step's logs (floats).
    """
    import keras

    from fdkd_tf.config import DistillConfig, ModelSpec
    from fdkd_tf.distillers import Direction, build_distiller
    from fdkd_tf.models import build_classifier

    keras.utils.set_random_seed(0)
    spec = ModelSpec(arch="resnet18")
    other = {"teacher": "student", "student": "teacher"}
    models = {
        role: {
            key: build_classifier(spec, bundle.input_shapes[key], bundle.num_classes, f"{role}_{bundle.modalities[key]}")
            for key in ("teacher", "student")
        }
        for role in ("teacher", "student")
    }
    student_keys = ("student", "teacher") if direction == "both" else ("student",)
    directions = [
        Direction(bundle.modalities[key], key, models["student"][key], other[key], models["teacher"][other[key]])
        for key in student_keys
    ]
    distiller = build_distiller(DistillConfig(method="fdcmkd", direction=direction), directions, bundle.num_classes)
    distiller.compile(optimizer=keras.optimizers.SGD(1e-2, momentum=0.9), run_eagerly=True)  # one step: tracing would cost more
    inputs, labels = next(iter(bundle.train))
    logs = distiller.train_on_batch(inputs, labels, return_dict=True)
    return {name: float(value) for name, value in logs.items()}
