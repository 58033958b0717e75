"""CrisisMMD preparation: the official release -> checked images and prepared split TSVs.

Built on `fdkd_tf.data.preparation.run_jobs` (threads, one progress bar, images
already written are skipped on a rerun).
"""

from __future__ import annotations

import os
import re
import shutil
from typing import Optional

import tensorflow as tf

from fdkd_tf.data.crisismmd.layout import (
    HEADER_BYTES,
    OFFICIAL_COLUMNS,
    OFFICIAL_SPLIT_SIZES,
    OFFICIAL_SPLITS,
    PREPARED_COLUMNS,
    TASK_CLASSES,
    UNREADABLE_FILE,
    check_task,
    official_split_filename,
    prepared_split_filename,
    read_split_file,
)
from fdkd_tf.data.crisismmd.release import locate_release
from fdkd_tf.data.images import decode_rgb, has_image_signature
from fdkd_tf.data.preparation import REPORT_FILE, PreparationReport, previous_runs, run_jobs
from fdkd_tf.files import atomic_path, write_json, write_text

JPEG_QUALITY = 95


def _clean_text(text: str) -> str:
    """Tabs and line breaks -> spaces, so a text stays one TSV field."""
    return text.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def prepare_image(source: str, target: str) -> Optional[str]:
    """Checks that ``source`` decodes and writes it to ``target`` as JPEG (atomically).

    A JPEG file is copied byte for byte; other formats (PNG, GIF, BMP saved with a
    ``.jpg`` name) are re-encoded. An existing ``target`` is a finished image and
    is left alone (preparation resumes where it stopped).

    Returns:
        None on success, else why the image cannot be used.
    """
    if os.path.exists(target):
        return None
    if not os.path.isfile(source):
        return "missing"
    if os.path.getsize(source) == 0:
        return "empty file"
    with open(source, "rb") as handle:
        encoded = handle.read()
    if not has_image_signature(encoded[:HEADER_BYTES]):
        return "not a JPEG/PNG/GIF/BMP image"
    try:
        image = decode_rgb(encoded)
        if int(tf.size(image)) == 0:
            return "decodes to an empty image"
    except (tf.errors.InvalidArgumentError, tf.errors.OpError) as error:
        reason = re.sub(r"\{\{.*?\}\}|\[Op:\w+\]", "", error.message.splitlines()[0]).strip()
        return f"cannot be decoded ({reason})"
    with atomic_path(target) as temporary:
        if encoded.startswith(b"\xff\xd8\xff"):
            shutil.copyfile(source, temporary)
        else:
            tf.io.write_file(temporary, tf.io.encode_jpeg(image, quality=JPEG_QUALITY))
    return None


def prepare_crisismmd(
    src: str,
    out: str,
    tasks: tuple = tuple(TASK_CLASSES),
    on_bad_sample: str = "error",
    progress: bool = True,
    workers: Optional[int] = None,
) -> dict:
    """Turns the official CrisisMMD v2.0 release into what `build_crisismmd` reads.

    For each task and split, the official TSV is parsed and checked line by line
    (`read_split_file`); every referenced image is checked and copied to
    ``out/data_image/...`` (`prepare_image`), in parallel, with a progress bar.
    Pairs whose image is missing, empty or undecodable are left out of the
    prepared split, listed by name in ``out/unreadable_images.txt`` and counted in
    ``out/prepare_report.json``. Rerunning skips images already written.

    Args:
        src: the raw release (see `locate_release`).
        out: the prepared dataset directory (``data.root``).
        tasks: tasks to prepare.
        on_bad_sample: ``error`` stops at a malformed split line (wrong number of
            fields, unknown label); ``skip`` leaves it out and counts it.
        progress: show a progress bar.
        workers: image threads (default: the CPU count).

    Returns:
        The report: per task and split the lines read, pairs written and the
        official size; the unreadable images with reasons; the skipped lines.

    Raises:
        ConfigError: if ``src`` lacks the release or a split file.
        ValueError: for a malformed split line with ``on_bad_sample: error``.

    Example:
        >>> report = prepare_crisismmd("raw", "data/crisismmd", progress=False)
        >>> report["tasks"]["informative"]["train"]["written"]
        9601
    """
    parsed, skipped_lines = {}, []
    for task in tasks:
        check_task(task)
        release_root, split_dir = locate_release(src, task)
        for split in OFFICIAL_SPLITS:
            path = os.path.join(split_dir, official_split_filename(task, split))
            parsed[task, split] = read_split_file(
                path, OFFICIAL_COLUMNS, TASK_CLASSES[task], on_bad_sample, skipped_lines
            )
    images = sorted({sample.image for samples in parsed.values() for sample in samples})
    os.makedirs(out, exist_ok=True)
    jobs = {image: (os.path.join(release_root, image), os.path.join(out, image)) for image in images}
    images_report = PreparationReport(dataset="crisismmd", unit="image")
    run_jobs(images_report, jobs, lambda job: os.path.exists(job[1]), lambda job: prepare_image(*job), progress, workers or os.cpu_count() or 1)
    unreadable = images_report.failed

    report = {
        "source": os.path.abspath(src),
        "tasks": {},
        "skipped_lines": skipped_lines,
        "images": {key: getattr(images_report, key) for key in ("total", "prepared", "already_done")},
    }
    for (task, split), samples in parsed.items():
        kept = [sample for sample in samples if sample.image not in unreadable]
        rows = ["\t".join(PREPARED_COLUMNS)] + [
            "\t".join((s.tweet_id, s.image_id, s.image, s.label, _clean_text(s.text))) for s in kept
        ]
        write_text(os.path.join(out, prepared_split_filename(task, split)), "\n".join(rows) + "\n")
        report["tasks"].setdefault(task, {})[split] = {
            "lines": len(samples),
            "written": len(kept),
            "unreadable_images": len(samples) - len(kept),
            "official": OFFICIAL_SPLIT_SIZES[task][split],
        }
    report["unreadable_images"] = dict(sorted(unreadable.items()))
    report["num_unreadable_images"] = len(unreadable)
    report["num_skipped_lines"] = len(skipped_lines)
    write_text(
        os.path.join(out, UNREADABLE_FILE),
        "".join(f"{image}\t{reason}\n" for image, reason in report["unreadable_images"].items()),
    )
    report["runs"] = previous_runs(os.path.join(out, REPORT_FILE)) + [dict(report["images"], failed=len(unreadable))]
    write_json(os.path.join(out, REPORT_FILE), report)
    return report
