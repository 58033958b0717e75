"""NYU-Depth V2 preparation: the labelled release -> the prepared PNG layout.

Built on `fdkd_tf.data.preparation.run_jobs`: finished samples are skipped (a
killed preparation reruns with the same command), failures are listed by sample id
with the reason in ``prepare_report.json``, one progress bar. Samples are read from
one open HDF5 file, which is not thread-safe, so they are prepared in order.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from fdkd_tf.data.nyudv2.layout import CLASSES_FILE, PNG_FORMATS, SPLIT_FILES, sample_id, sample_path
from fdkd_tf.data.nyudv2.release import RAW_FILES, convert_sample, raw_sample, read_class_mapping, read_official_splits
from fdkd_tf.data.preparation import PreparationReport, run_jobs
from fdkd_tf.files import atomic_path, write_text


def write_png(path: str, image: np.ndarray) -> None:
    """Writes ``(H, W)`` or ``(H, W, C)`` uint8 / uint16 ``image`` as a PNG, atomically."""
    if image.ndim == 2:
        image = image[:, :, None]
    encoded = tf.io.encode_png(tf.constant(image)).numpy()
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            handle.write(encoded)


def is_prepared(out_dir: str, index: int) -> bool:
    """Whether all three PNGs of sample ``index`` exist (written atomically, so complete)."""
    return all(os.path.exists(sample_path(out_dir, kind, index)) for kind in PNG_FORMATS)


def prepare_nyudv2(src: str, out: str, on_bad_sample: str = "skip", progress: bool = True) -> PreparationReport:
    """Official labelled release -> the prepared layout `build_nyudv2` reads.

    Resumable: a sample whose three PNGs exist is skipped. A sample that cannot
    be read or converted is listed with the reason in the report and left out
    of the split files (``on_bad_sample: skip``), or stops the run with an error
    naming it (``error``).

    Args:
        src: directory with `RAW_FILES`.
        out: the prepared directory (created).
        on_bad_sample: ``skip`` (report and continue) or ``error``.
        progress: show a progress bar.

    Returns:
        The `PreparationReport`.

    Raises:
        FileNotFoundError: naming a missing raw file.
        ValueError: for malformed split / mapping files or a ``.mat`` without the
            labelled arrays, naming the file; for a bad sample with ``error``.
    """
    import h5py

    if on_bad_sample not in ("skip", "error"):
        raise ValueError(f"on_bad_sample must be 'skip' or 'error', got {on_bad_sample!r}")
    if not os.path.isdir(src):
        raise FileNotFoundError(f"NYU-Depth V2 release directory not found: {src}")
    paths = {key: os.path.join(src, name) for key, name in RAW_FILES.items()}
    for key, path in paths.items():
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"{path} not found: --src must hold {', '.join(RAW_FILES.values())} (the labelled release, "
                "the official splits and Gupta et al.'s 40-class mapping)"
            )
    lookup, class_names = read_class_mapping(paths["mapping"])
    try:
        handle = h5py.File(paths["data"], "r")
    except OSError as error:
        raise ValueError(f"cannot open {paths['data']} as a MATLAB v7.3 (HDF5) file: {error}") from None
    with handle:
        for name in ("images", "depths", "labels"):
            if name not in handle:
                raise ValueError(f"{paths['data']} has no array {name!r}; it must be nyu_depth_v2_labeled.mat")
        num_samples = int(handle["images"].shape[0])
        if handle["depths"].shape[0] != num_samples or handle["labels"].shape[0] != num_samples:
            raise ValueError(f"{paths['data']}: images, depths and labels hold different numbers of samples")
        splits = read_official_splits(paths["splits"], num_samples)
        indices = sorted(set(splits["train"].tolist()) | set(splits["test"].tolist()))
        for kind in PNG_FORMATS:
            os.makedirs(os.path.join(out, kind), exist_ok=True)
        report = PreparationReport(dataset="nyudv2", unit="sample")

        def prepare(index: int) -> None:
            for kind, array in convert_sample(raw_sample(handle, index - 1), lookup).items():
                write_png(sample_path(out, kind, index), array)

        def stop(name: str, reason: str) -> None:
            if on_bad_sample == "error":
                raise ValueError(
                    f"{paths['data']}: sample {int(name)} ({name}) cannot be prepared: {reason}; "
                    "pass --on-bad-sample skip to leave it out"
                )

        jobs = {sample_id(index): index for index in indices}
        run_jobs(report, jobs, lambda index: is_prepared(out, index), prepare, progress, on_failure=stop)
    for split, split_indices in splits.items():
        kept = [sample_id(int(i)) for i in split_indices if sample_id(int(i)) not in report.failed]
        report.split_sizes[split] = len(kept)
        write_text(os.path.join(out, SPLIT_FILES[split]), "".join(f"{name}\n" for name in kept))
    write_text(os.path.join(out, CLASSES_FILE), "".join(f"{name}\n" for name in class_names))
    report.write(out)
    return report
