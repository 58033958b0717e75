"""CREMA-D (Cao et al., 2014): emotion of an actor's face (visual) and voice (audio).

6 classes {NEU 0, HAP 1, SAD 2, FEA 3, DIS 4, ANG 5}; 7,442 clips of 91 actors, split
as in the reference code into 6,698 training and 744 test clips. The release has no
validation split: ``data.val_fraction`` of each training class (fixed by
``data.split_seed``) validates.

Official release (``git lfs clone`` of CheyneyComputerScience/CREMA-D) plus the
reference code's split CSVs, as ``tools/prepare_cremad.py --src RAW_DIR`` expects::

    RAW_DIR/
      AudioWAV/1001_DFA_ANG_XX.wav   16 kHz mono speech, one per clip
      VideoFlash/1001_DFA_ANG_XX.flv the same clip's video (FLV)
      train.csv  test.csv            no header, rows ``clip_name,LABEL`` (LABEL in NEU HAP SAD FEA DIS ANG)

Preparation resamples the wav to 22,050 Hz (the reference loads it at that rate) and
keeps one frame per second of the FLV. The loader tiles the audio to 160,000 samples
for the reference spectrogram (257 x 1004) and reads one frame (random in training,
the middle one at test). The prepared layout is in `fdkd_tf.data.audiovisual`.
"""

from __future__ import annotations

import csv
import os
from typing import Optional

from fdkd_tf.config import DataConfig
from fdkd_tf.data.audiovisual import AVDatasetSpec, DataFormatError, build_av_bundle
from fdkd_tf.data.bundle import DatasetBundle
from fdkd_tf.data.preparation import ClipJob, PreparationReport, annotation_error, prepare_dataset, require_dir
from fdkd_tf.data.registry import register_dataset

CLASS_NAMES = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")
SPLIT_FILES = {"train": "train.csv", "test": "test.csv"}
SPEC = AVDatasetSpec(
    name="cremad",
    class_names=CLASS_NAMES,
    num_classes=6,
    split_sizes={"train": 6698, "test": 744},
    sample_rate=22050,
    audio_kind="reference",
    num_frames=1,
    prepare_tool="tools/prepare_cremad.py",
)


def read_split_csv(path: str, on_bad: str, bad_lines: list) -> list[tuple[str, str]]:
    """Rows ``(clip_name, LABEL)`` of a reference split CSV (no header).

    Raises:
        DataFormatError: naming the file and line of a row with a field count other
            than 2 or a label outside `CLASS_NAMES` (``on_bad == "error"``).
    """
    if not os.path.isfile(path):
        raise DataFormatError(f"CREMA-D split file not found: {path}; put the reference train.csv/test.csv (clip_name,LABEL) there or pass --splits DIR")
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for number, fields in enumerate(csv.reader(handle), 1):
            if not fields or not "".join(fields).strip():
                continue
            if len(fields) != 2:
                annotation_error(path, number, f"expected 2 comma-separated fields (clip_name,LABEL), got {len(fields)}", on_bad, bad_lines)
                continue
            clip, label = (field.strip() for field in fields)
            if label not in CLASS_NAMES:
                annotation_error(path, number, f"label {label!r} is not one of {', '.join(CLASS_NAMES)}", on_bad, bad_lines)
                continue
            rows.append((clip, label))
    return rows


def prepare_cremad(
    src: str, out: str, splits_dir: Optional[str] = None, on_bad: str = "error", progress: bool = True
) -> PreparationReport:
    """Prepares the CREMA-D release under ``src`` into ``out`` (resumable).

    Args:
        src: the release (``AudioWAV/``, ``VideoFlash/``).
        out: prepared directory.
        splits_dir: directory of ``train.csv``/``test.csv`` (default ``src``).
        on_bad: ``error`` or ``skip`` for malformed split rows.
        progress: show a progress bar.

    Returns:
        The `PreparationReport`.
    """
    for sub in ("AudioWAV", "VideoFlash"):
        require_dir(os.path.join(src, sub), f"CREMA-D {sub} directory")
    bad_lines: list[str] = []
    splits = {split: read_split_csv(os.path.join(splits_dir or src, name), on_bad, bad_lines) for split, name in SPLIT_FILES.items()}
    clips = list(dict.fromkeys(clip for rows in splits.values() for clip, _ in rows))
    jobs = [
        ClipJob(clip, os.path.join(src, "VideoFlash", f"{clip}.flv"), audio_path=os.path.join(src, "AudioWAV", f"{clip}.wav"))
        for clip in clips
    ]
    return prepare_dataset("cremad", jobs, splits, list(CLASS_NAMES), out, SPEC.sample_rate, bad_lines, progress)


@register_dataset("cremad")
def build_cremad(data_cfg: DataConfig, seed: int, deterministic: bool = False) -> DatasetBundle:
    """CREMA-D pipelines of a prepared directory (``data.root``); views audio and visual.

    Example:
        >>> bundle = build_cremad(DataConfig(name="cremad", root="data/cremad", teacher="visual", student="audio"), 0)
        >>> bundle.input_shapes
        {'teacher': (224, 224, 3), 'student': (257, 1004, 1)}
    """
    return build_av_bundle(SPEC, data_cfg, seed, deterministic)
