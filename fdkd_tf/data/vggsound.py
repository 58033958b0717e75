"""VGGSound-50 (Chen et al., 2020): 50 classes of VGGSound's 10 s YouTube clips.

The reference code's subset: 50 classes, 25,835 training and 2,500 test clips (50 per
class). There is no validation split: ``data.val_fraction`` of each training class
(fixed by ``data.split_seed``) validates. Class indices follow the sorted class names.

Official release (the VGGSound CSV, or the subset's CSVs, with the clips as
downloaded), as ``tools/prepare_vggsound.py --src RAW_DIR`` expects::

    RAW_DIR/
      vggsound.csv                      no header, rows ``ytid,start_sec,label,split``
                                        (split: train or test; labels with commas are quoted);
                                        other names with --csv, several files allowed
      video/<ytid>_<start_sec:06d>.mp4  the 10 s clip starting at start_sec

Preparation writes 16 kHz mono audio and one frame per second. The loader tiles the
audio to at least 10 s, crops 5 s (random in training, centred at test) for the
log-magnitude STFT (129 x 626) and reads 3 frames (random in training, evenly spaced
at test). The prepared layout is in `fdkd_tf.data.audiovisual`.
"""

from __future__ import annotations

import os
from typing import Optional, Sequence

from fdkd_tf.data.audiovisual import AVDatasetSpec, register_av_dataset
from fdkd_tf.data.clips import ClipJob, prepare_dataset
from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.data.preparation import PreparationReport, annotation_error, read_annotation_rows, require_dir

CSV_FIELDS = ("ytid", "start_sec", "label", "split")
DEFAULT_CSV = "vggsound.csv"
SPLITS = ("train", "test")
SPEC = AVDatasetSpec(
    name="vggsound",
    class_names=(),  # the subset is defined by its CSV; only the count is official
    num_classes=50,
    split_sizes={"train": 25835, "test": 2500},
    sample_rate=16000,
    audio_kind="vggsound",
    num_frames=3,
    prepare_tool="tools/prepare_vggsound.py",
)


def clip_name(ytid: str, start_sec: int) -> str:
    """``<ytid>_<start_sec:06d>``, the clip's file stem."""
    return f"{ytid}_{start_sec:06d}"


def read_csv(path: str, on_bad: str, bad_lines: list) -> list[dict]:
    """Checked rows ``ytid,start_sec,label,split`` of a VGGSound CSV (no header).

    Raises:
        DataFormatError: naming the file and line of a row without 4 fields, with a
            non-integer start or a split other than train/test (``on_bad == "error"``),
            or a missing file.
    """
    if not os.path.isfile(path):
        raise DataFormatError(f"VGGSound CSV not found: {path}; pass the subset's CSV with --csv")
    rows = []
    for number, (ytid, start, label, split) in read_annotation_rows(path, "VGGSound CSV", CSV_FIELDS, on_bad, bad_lines):
        if not start.isdigit():
            annotation_error(path, number, f"start_sec must be a non-negative integer, got {start!r}", on_bad, bad_lines)
            continue
        if split not in SPLITS:
            annotation_error(path, number, f"split must be train or test, got {split!r}", on_bad, bad_lines)
            continue
        rows.append(dict(clip=clip_name(ytid, int(start)), label=label, split=split))
    return rows


def prepare_vggsound(
    src: str, out: str, csv_files: Optional[Sequence[str]] = None, on_bad: str = "error", progress: bool = True
) -> PreparationReport:
    """Prepares VGGSound(-50) clips under ``src`` into ``out`` (resumable).

    Args:
        src: directory with ``video/`` (and the CSV by default).
        out: prepared directory.
        csv_files: CSV paths (default ``src/vggsound.csv``); their labels are the
            class list, sorted.
        on_bad: ``error`` or ``skip`` for malformed CSV rows.
        progress: show a progress bar.

    Returns:
        The `PreparationReport`.
    """
    require_dir(os.path.join(src, "video"), "VGGSound video directory")
    bad_lines: list[str] = []
    rows = [row for path in (csv_files or [os.path.join(src, DEFAULT_CSV)]) for row in read_csv(path, on_bad, bad_lines)]
    classes = sorted({row["label"] for row in rows})
    splits = {split: [(row["clip"], row["label"]) for row in rows if row["split"] == split] for split in SPLITS}
    jobs = {row["clip"]: ClipJob(row["clip"], os.path.join(src, "video", f"{row['clip']}.mp4")) for row in rows}
    return prepare_dataset("vggsound", list(jobs.values()), splits, classes, out, SPEC.sample_rate, bad_lines, progress)


build_vggsound = register_av_dataset(SPEC)
