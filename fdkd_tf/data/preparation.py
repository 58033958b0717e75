"""What every dataset's preparation shares: reading the release's annotation files,
the resumable per-item loop with its progress bar, and the report.

A dataset's preparation (`fdkd_tf.data.clips` for AVE / CREMA-D / VGGSound,
`fdkd_tf.data.nyudv2.preparation`, `fdkd_tf.data.crisismmd.preparation`) lists its
items (clips, samples, images), says when one is finished and how to prepare one;
`run_jobs` does the rest: it skips finished items (a killed preparation reruns with
the same command), prepares the others on one thread or a pool, records every
failure by name with its reason, and shows one progress bar. Nothing is dropped
silently: failures and skipped annotation lines go into `PreparationReport`.
"""

from __future__ import annotations

import concurrent.futures
import csv
import dataclasses
import os
from typing import Callable, Iterable, Optional

from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.files import read_json, write_json

REPORT_FILE = "prepare_report.json"


@dataclasses.dataclass
class PreparationReport:
    """Counts and failures of one preparation run (written as ``prepare_report.json``).

    Attributes:
        dataset: the dataset's name, for messages.
        unit: what one item is (``clip``, ``sample``), for messages.
        total: items listed by the release.
        prepared: items prepared by this run.
        already_done: items a previous run had finished.
        failed: item name -> why it could not be prepared.
        bad_lines: annotation lines that were skipped (``on_bad: skip``).
        split_sizes: items per split file written.
    """

    dataset: str
    unit: str = "clip"
    total: int = 0
    prepared: int = 0
    already_done: int = 0
    failed: dict = dataclasses.field(default_factory=dict)
    bad_lines: list = dataclasses.field(default_factory=list)
    split_sizes: dict = dataclasses.field(default_factory=dict)

    def summary(self) -> str:
        """One paragraph for the console."""
        text = (
            f"{self.dataset}: {self.total} {self.unit}s, {self.prepared} prepared now, {self.already_done} "
            f"already prepared, {len(self.failed)} failed; split sizes {self.split_sizes}"
        )
        if self.bad_lines:
            text += f"; {len(self.bad_lines)} bad annotation lines skipped"
        if self.failed:
            listed = ", ".join(list(self.failed)[:10]) + (", ..." if len(self.failed) > 10 else "")
            text += f"\nfailed {self.unit}s (see {REPORT_FILE}): {listed}"
        return text

    @property
    def usable(self) -> int:
        """Items prepared now or by an earlier run."""
        return self.prepared + self.already_done

    def nothing_prepared(self) -> Optional[str]:
        """The error line when the release listed items but none could be prepared, else None."""
        if self.total and not self.usable:
            return (
                f"{self.dataset}: none of the {self.total} {self.unit}s could be prepared (the reasons are in "
                f"{REPORT_FILE}); check that --src is the unpacked official release"
            )
        return None

    def write(self, out_dir: str, **extra) -> None:
        """Writes the report (plus ``extra`` keys) to ``out_dir/prepare_report.json``, atomically.

        A rerun merges with the report there: ``runs`` lists every run's counts, and
        the other keys describe the prepared directory as it now is.
        """
        path = os.path.join(out_dir, REPORT_FILE)
        runs = previous_runs(path) + [{"prepared": self.prepared, "already_done": self.already_done, "failed": len(self.failed)}]
        payload = dataclasses.asdict(self) | {"num_failed": len(self.failed), "runs": runs} | extra
        write_json(path, payload)


def previous_runs(path: str) -> list:
    """The ``runs`` list of an existing report (empty when there is none or it is unreadable)."""
    try:
        previous = read_json(path)
    except (ValueError, OSError):
        return []
    return list(previous.get("runs", [])) if isinstance(previous, dict) else []


def progress_bar(items: Iterable, description: str, unit: str, enabled: bool, total: Optional[int] = None):
    """``items`` behind a tqdm bar when ``enabled`` (tqdm is imported only then)."""
    if not enabled:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=description, unit=unit, total=total, dynamic_ncols=True)


def _attempt(prepare: Callable, job) -> Optional[str]:
    """``prepare(job)``'s failure reason: its returned string, or the exception it raised."""
    try:
        return prepare(job)
    except Exception as error:  # noqa: BLE001 - every failure is reported by name
        return f"{type(error).__name__}: {error}"


def run_jobs(
    report: PreparationReport,
    jobs: dict,
    is_done: Callable[[object], bool],
    prepare: Callable[[object], Optional[str]],
    progress: bool = True,
    workers: int = 1,
    on_failure: Optional[Callable[[str, str], None]] = None,
) -> None:
    """Prepares every job that is not finished yet, counting into ``report``.

    Args:
        report: receives ``total``, ``prepared``, ``already_done`` and ``failed``.
        jobs: item name -> job, in the order to prepare them.
        is_done: whether a job's output is complete (written atomically by ``prepare``).
        prepare: prepares one job; returns None, or a reason string / raises when the
            job cannot be prepared (its partial output must not be left behind).
        progress: show a progress bar.
        workers: threads; 1 prepares in order on this thread (for readers that are
            not thread-safe, such as one open HDF5 file).
        on_failure: called with (name, reason) for each failure before it is recorded;
            it may raise to stop the run (``on_bad_sample: error``).
    """
    report.total = len(jobs)
    pending = {}
    for name, job in jobs.items():
        if is_done(job):
            report.already_done += 1
        else:
            pending[name] = job
    description = f"prepare {report.dataset}"
    if workers <= 1:
        outcomes = ((name, _attempt(prepare, job)) for name, job in pending.items())
        outcomes = progress_bar(outcomes, description, report.unit, progress, total=len(pending))
        _record(report, outcomes, on_failure)
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {pool.submit(_attempt, prepare, job): name for name, job in pending.items()}
        finished = progress_bar(concurrent.futures.as_completed(futures), description, report.unit, progress, total=len(futures))
        _record(report, ((futures[future], future.result()) for future in finished), on_failure)


def _record(report: PreparationReport, outcomes, on_failure) -> None:
    for name, reason in outcomes:
        if reason is None:
            report.prepared += 1
            continue
        if on_failure is not None:
            on_failure(name, reason)
        report.failed[name] = reason
    report.failed = dict(sorted(report.failed.items()))


def annotation_error(path: str, number: int, message: str, on_bad: str, bad_lines: list) -> None:
    """Raises `DataFormatError` naming ``path`` and line ``number``, or records the skip."""
    text = f"{path}, line {number}: {message}"
    if on_bad == "error":
        raise DataFormatError(f"{text}; fix the line or pass --on-bad-line skip")
    bad_lines.append(text)


def read_annotation_rows(
    path: str, what: str, fields: tuple, on_bad: str, bad_lines: list, delimiter: str = ",", header: bool = False
) -> list[tuple[int, list[str]]]:
    """Checked rows of a release's annotation file: ``(line number, stripped fields)``.

    One reader for the audio-visual releases' CSV and ``&``-separated files: blank
    lines are passed over, a first line equal to ``fields`` is a header (skipped when
    ``header``), and a row with another field count is an error naming the line, or
    a recorded skip (``on_bad == "skip"``). Quoted fields (labels with commas) are
    read as CSV does.

    Args:
        path: the annotation file.
        what: what the file is, for the missing-file message (e.g. ``"CREMA-D split file"``).
        fields: the column names, for messages and header detection.
        on_bad: ``error`` or ``skip``.
        bad_lines: collects the skipped lines' descriptions.
        delimiter: the field separator.
        header: skip a first line equal to ``fields``.

    Raises:
        DataFormatError: naming ``path`` when it is missing, or the line of a bad row.
    """
    if not os.path.isfile(path):
        raise DataFormatError(f"{what} not found: {path}")
    rows = []
    with open(path, newline="", encoding="utf-8") as handle:
        for number, row in enumerate(csv.reader(handle, delimiter=delimiter), 1):
            if not row or not "".join(row).strip():
                continue
            row = [field.strip() for field in row]
            if header and number == 1 and row[: len(fields)] == list(fields):
                continue
            if len(row) != len(fields):
                separator = "comma" if delimiter == "," else repr(delimiter)
                annotation_error(path, number, f"expected {len(fields)} {separator}-separated fields ({delimiter.join(fields)}), got {len(row)}", on_bad, bad_lines)
                continue
            rows.append((number, row))
    return rows


def require_dir(path: str, what: str) -> None:
    """Raises `DataFormatError` when the release directory is missing."""
    if not os.path.isdir(path):
        raise DataFormatError(f"{what} not found: {path} (is --src the unpacked official release?)")
