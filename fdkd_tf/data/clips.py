"""Audio-visual clip preparation: official release -> the layout the AV loaders read.

For every clip: decode its audio with PyAV (FFmpeg ships in the wheels, no system
ffmpeg), mix to mono and resample to the dataset's reference rate, write a 16-bit
wav; decode its video and keep one frame per second as a JPEG. Then write the split
files, ``classes.txt``, ``index.tsv`` and ``prepare_report.json`` (layout in
`fdkd_tf.data.audiovisual`).

Resumable: a clip's frames go to a temporary directory renamed into place, then its
wav is written to a temporary file renamed into place; a clip with both is finished
and skipped on the next run, so a killed preparation reruns with the same command.
A clip that cannot be decoded (missing, corrupt, no audio or no video stream, empty)
is listed by name with the reason in the report and counted in the summary; it is
left out of the split files, never dropped silently.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from typing import Callable, Optional

import numpy as np

from fdkd_tf.data.audio import write_wav
from fdkd_tf.data.audiovisual import CLASSES_FILE, INDEX_FILE
from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.data.preparation import PreparationReport, run_jobs
from fdkd_tf.files import atomic_path, write_text

PARTIAL_SUFFIX = ".partial"
JPEG_QUALITY = 95


@dataclasses.dataclass
class ClipJob:
    """One clip to prepare.

    Attributes:
        name: clip name (file stem of its wav and frame directory).
        video_path: the release's video file (frames; audio too when ``audio_path`` is None).
        audio_path: a separate audio file of the release (CREMA-D's AudioWAV), or None.
        start: first second to keep (AVE's annotated segment), 0 for the whole clip.
        end: second to stop at, or None for the end of the clip.
    """

    name: str
    video_path: str
    audio_path: Optional[str] = None
    start: float = 0.0
    end: Optional[float] = None


def decode_audio(path: str, sample_rate: int, start: float = 0.0, end: Optional[float] = None) -> np.ndarray:
    """Mono float32 samples of a media file's first audio stream at ``sample_rate``.

    Args:
        path: audio or video file.
        sample_rate: output rate; PyAV's resampler converts.
        start: first second kept.
        end: second to stop at (None = the end).

    Returns:
        ``(samples,)`` float32 in [-1, 1].

    Raises:
        ValueError: when the file has no audio stream or no samples in the range.
    """
    import av

    chunks = []
    with av.open(path) as container:
        if not container.streams.audio:
            raise ValueError("no audio stream")
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in container.decode(stream):
            for converted in resampler.resample(frame):
                chunks.append(converted.to_ndarray().reshape(-1))
        for converted in resampler.resample(None):
            chunks.append(converted.to_ndarray().reshape(-1))
    waveform = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    first = int(round(start * sample_rate))
    last = len(waveform) if end is None else int(round(end * sample_rate))
    waveform = waveform[first:last]
    if waveform.size == 0:
        raise ValueError(f"no audio samples between {start} s and {end if end is not None else 'the end'}")
    return np.clip(waveform.astype(np.float32), -1.0, 1.0)


def decode_frames(path: str, start: float = 0.0, end: Optional[float] = None) -> list[np.ndarray]:
    """One RGB frame per second of video: the first frame at or after ``start + k`` s.

    Args:
        path: video file.
        start: first second kept.
        end: second to stop at (None = the end of the stream).

    Returns:
        A list of ``(H, W, 3)`` uint8 arrays, at least one.

    Raises:
        ValueError: when the file has no video stream or no frame in the range.
    """
    import av

    frames = []
    with av.open(path) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        next_time = start
        for frame in container.decode(stream):
            time = frame.time if frame.time is not None else 0.0
            if end is not None and time >= end:
                break
            if time + 1e-6 >= next_time:
                frames.append(frame.to_ndarray(format="rgb24"))
                next_time = start + math.floor(time - start + 1e-6) + 1.0
    if not frames:
        raise ValueError(f"no video frame between {start} s and {end if end is not None else 'the end'}")
    return frames


def _encode_jpeg(image: np.ndarray) -> bytes:
    import tensorflow as tf

    return tf.io.encode_jpeg(image, quality=JPEG_QUALITY).numpy()


def is_prepared(out_dir: str, clip: str) -> bool:
    """A clip is finished when its wav and its frame directory both exist."""
    return os.path.isfile(os.path.join(out_dir, "audio", f"{clip}.wav")) and os.path.isdir(os.path.join(out_dir, "frames", clip))


def prepare_clip(job: ClipJob, out_dir: str, sample_rate: int) -> None:
    """Decodes one clip and writes its frames and wav atomically (frames first).

    Raises:
        Exception: whatever decoding raises; nothing of the clip is left behind.
    """
    for required in filter(None, (job.video_path, job.audio_path)):
        if not os.path.isfile(required):
            raise FileNotFoundError(f"missing file {required}")
    waveform = decode_audio(job.audio_path or job.video_path, sample_rate, job.start, job.end)
    frames = decode_frames(job.video_path, job.start, job.end)
    frames_dir = os.path.join(out_dir, "frames", job.name)
    partial = frames_dir + PARTIAL_SUFFIX
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    for index, frame in enumerate(frames):
        with open(os.path.join(partial, f"{index:04d}.jpg"), "wb") as handle:
            handle.write(_encode_jpeg(frame))
    shutil.rmtree(frames_dir, ignore_errors=True)
    os.replace(partial, frames_dir)
    with atomic_path(os.path.join(out_dir, "audio", f"{job.name}.wav")) as temporary:
        write_wav(temporary, waveform, sample_rate)


def count_frames(out_dir: str, clip: str) -> int:
    """JPEG files in a prepared clip's frame directory."""
    return sum(1 for name in os.listdir(os.path.join(out_dir, "frames", clip)) if name.endswith(".jpg"))


def prepare_dataset(
    dataset: str,
    jobs: list[ClipJob],
    splits: dict[str, list[tuple[str, str]]],
    class_names: list[str],
    out_dir: str,
    sample_rate: int,
    bad_lines: Optional[list[str]] = None,
    progress: bool = True,
    prepare: Callable[[ClipJob, str, int], None] = prepare_clip,
) -> PreparationReport:
    """Prepares every clip not yet done, then writes split files, index and report.

    Args:
        dataset: name for messages and the report.
        jobs: the clips (unique names).
        splits: ``{split: [(clip, class name), ...]}`` as in the release.
        class_names: classes in index order (``classes.txt``).
        out_dir: the prepared directory (created).
        sample_rate: reference audio rate.
        bad_lines: annotation lines the caller skipped, for the report.
        progress: show a progress bar.
        prepare: the per-clip function (tests substitute a failing one).

    Returns:
        The `PreparationReport` (also written to ``out_dir/prepare_report.json``).
    """
    for sub in ("audio", "frames"):
        os.makedirs(os.path.join(out_dir, sub), exist_ok=True)
    names = [job.name for job in jobs]
    if len(set(names)) != len(names):
        duplicate = next(name for name in names if names.count(name) > 1)
        raise DataFormatError(f"{dataset}: clip {duplicate!r} is listed twice in the annotations; remove one line")
    report = PreparationReport(dataset=dataset, bad_lines=list(bad_lines or []))

    def prepare_one(job: ClipJob) -> None:
        try:
            prepare(job, out_dir, sample_rate)
        finally:
            shutil.rmtree(os.path.join(out_dir, "frames", job.name + PARTIAL_SUFFIX), ignore_errors=True)

    run_jobs(report, {job.name: job for job in jobs}, lambda job: is_prepared(out_dir, job.name), prepare_one, progress)
    done = {name: count_frames(out_dir, name) for name in names if name not in report.failed and is_prepared(out_dir, name)}
    write_text(os.path.join(out_dir, CLASSES_FILE), "".join(f"{name}\n" for name in class_names))
    write_text(os.path.join(out_dir, INDEX_FILE), "".join(f"{name}\t{count}\n" for name, count in done.items()))
    for split, rows in splits.items():
        kept = [(clip, label) for clip, label in rows if clip in done]
        report.split_sizes[split] = len(kept)
        write_text(os.path.join(out_dir, f"{split}.tsv"), "".join(f"{clip}\t{label}\n" for clip, label in kept))
    report.write(out_dir)
    return report
