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

import os
from typing import Optional

from fdkd_tf.data.audiovisual import AVDatasetSpec, register_av_dataset
from fdkd_tf.data.clips import ClipJob, prepare_dataset
from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.data.preparation import PreparationReport, annotation_error, read_annotation_rows, require_dir

CLASS_NAMES = ("NEU", "HAP", "SAD", "FEA", "DIS", "ANG")
CSV_FIELDS = ("clip_name", "LABEL")
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
    for number, (clip, label) in read_annotation_rows(path, "CREMA-D split file", CSV_FIELDS, on_bad, bad_lines):
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


build_cremad = register_av_dataset(SPEC)
