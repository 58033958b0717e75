"""AVE (Tian et al., 2018): audio-visual events in 10 s YouTube videos.

28 event classes; 4,143 annotated segments split into 3,339 training, 402 validation
and 402 test segments (the ECCV 2018 split files). The class index is the order of
first appearance in ``Annotations.txt``.

Official release (``AVE_Dataset``), as ``tools/prepare_ave.py --src RAW_DIR`` expects::

    RAW_DIR/
      AVE/<VideoID>.mp4               the videos (one video may hold several events)
      Annotations.txt                 Category&VideoID&Quality&StartTime&EndTime, one line per event
      trainSet.txt valSet.txt testSet.txt   the same five fields; a first line naming the
                                      fields is a header and is skipped

A clip is one annotated segment, named ``<VideoID>_<StartTime>_<EndTime>``: its audio
(16 kHz mono) and one frame per second between StartTime and EndTime. The loader tiles
the audio to 160,000 samples for the reference spectrogram (257 x 1004) and reads one
frame. The prepared layout is in `fdkd_tf.data.audiovisual`.
"""

from __future__ import annotations

import os

from fdkd_tf.data.audiovisual import AVDatasetSpec, register_av_dataset
from fdkd_tf.data.clips import ClipJob, prepare_dataset
from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.data.preparation import PreparationReport, annotation_error, read_annotation_rows, require_dir

# The 28 categories in the order of first appearance in the official Annotations.txt.
CLASS_NAMES = (
    "Church bell", "Male speech, man speaking", "Bark", "Fixed-wing aircraft, airplane",
    "Race car, auto racing", "Female speech, woman speaking", "Helicopter", "Violin, fiddle",
    "Flute", "Ukulele", "Frying (food)", "Truck", "Shofar", "Motorcycle", "Acoustic guitar",
    "Train horn", "Clock", "Banjo", "Goat", "Baby cry, infant cry", "Bus", "Chainsaw", "Cat",
    "Horse", "Toilet flush", "Rodents, rats, mice", "Accordion", "Mandolin",
)  # fmt: skip
FIELDS = ("Category", "VideoID", "Quality", "StartTime", "EndTime")
SPLIT_FILES = {"train": "trainSet.txt", "val": "valSet.txt", "test": "testSet.txt"}
ANNOTATIONS_FILE = "Annotations.txt"
SPEC = AVDatasetSpec(
    name="ave",
    class_names=CLASS_NAMES,
    num_classes=28,
    split_sizes={"train": 3339, "val": 402, "test": 402},
    sample_rate=16000,
    audio_kind="reference",
    num_frames=1,
    prepare_tool="tools/prepare_ave.py",
)


def clip_name(video_id: str, start: str, end: str) -> str:
    """``<VideoID>_<StartTime>_<EndTime>``: unique per annotated segment."""
    return f"{video_id}_{start}_{end}"


def read_annotations(path: str, on_bad: str, bad_lines: list) -> list[dict]:
    """Checked rows of an AVE annotation file (``Annotations.txt`` or a split file).

    Returns:
        Dicts with ``category, video_id, start, end, clip, line``.

    Raises:
        DataFormatError: naming the file and line of a row without exactly 5
            ``&``-separated fields or with bad times (``on_bad == "error"``), or a
            missing file.
    """
    rows = []
    for number, fields in read_annotation_rows(path, "AVE annotation file", FIELDS, on_bad, bad_lines, delimiter="&", header=True):
        category, video_id, _, start, end = fields
        try:
            start_s, end_s = float(start), float(end)
        except ValueError:
            annotation_error(path, number, f"StartTime and EndTime must be numbers, got {start!r} and {end!r}", on_bad, bad_lines)
            continue
        if not 0 <= start_s < end_s:
            annotation_error(path, number, f"StartTime {start} must be >= 0 and below EndTime {end}", on_bad, bad_lines)
            continue
        rows.append(dict(category=category, video_id=video_id, start=start_s, end=end_s, clip=clip_name(video_id, start, end), line=number))
    return rows


def class_order(rows: list[dict]) -> list[str]:
    """Categories in the order of first appearance (the reference class indices)."""
    return list(dict.fromkeys(row["category"] for row in rows))


def prepare_ave(src: str, out: str, on_bad: str = "error", progress: bool = True) -> PreparationReport:
    """Prepares the AVE release under ``src`` into ``out`` (resumable).

    Args:
        src: the release (``AVE/``, ``Annotations.txt``, the three split files).
        out: prepared directory.
        on_bad: ``error`` or ``skip`` for malformed annotation lines.
        progress: show a progress bar.

    Returns:
        The `PreparationReport`.
    """
    require_dir(os.path.join(src, "AVE"), "AVE video directory")
    bad_lines: list[str] = []
    annotations = os.path.join(src, ANNOTATIONS_FILE)
    if not os.path.isfile(annotations):
        raise DataFormatError(f"AVE annotation file not found: {annotations}; it sets the class order")
    classes = class_order(read_annotations(annotations, on_bad, bad_lines))
    splits, jobs = {}, {}
    for split, name in SPLIT_FILES.items():
        path = os.path.join(src, name)
        splits[split] = []
        for row in read_annotations(path, on_bad, bad_lines):
            if row["category"] not in classes:
                annotation_error(path, row["line"], f"category {row['category']!r} does not appear in {annotations}", on_bad, bad_lines)
                continue
            splits[split].append((row["clip"], row["category"]))
            jobs[row["clip"]] = ClipJob(row["clip"], os.path.join(src, "AVE", f"{row['video_id']}.mp4"), start=row["start"], end=row["end"])
    return prepare_dataset("ave", list(jobs.values()), splits, classes, out, SPEC.sample_rate, bad_lines, progress)


build_ave = register_av_dataset(SPEC)
