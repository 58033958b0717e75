"""Finding the official CrisisMMD v2.0 release and its benchmark split files under ``--src``."""

from __future__ import annotations

import os
from typing import Optional

from fdkd_tf.config import ConfigError
from fdkd_tf.data.crisismmd.layout import IMAGE_DIR, official_split_filename

RELEASE_DIR = "CrisisMMD_v2.0"
SPLIT_DIR = "crisismmd_datasplit_all"


def _first_dir_with(candidates: list, relative: str) -> Optional[str]:
    for candidate in candidates:
        if os.path.exists(os.path.join(candidate, relative)):
            return candidate
    return None


def locate_release(src: str, task: str) -> tuple[str, str]:
    """Finds the release root (holding ``data_image/``) and the split directory under ``src``.

    Accepts ``src`` being the directory that holds ``CrisisMMD_v2.0/`` and
    ``crisismmd_datasplit_all/``, or ``CrisisMMD_v2.0/`` itself; the split archive
    may unpack into a doubled ``crisismmd_datasplit_all/crisismmd_datasplit_all/``.

    Returns:
        ``(release_root, split_dir)``.

    Raises:
        ConfigError: naming what is missing and the layout expected.
    """
    if not os.path.isdir(src):
        raise ConfigError(f"CrisisMMD source directory not found: {src}")
    roots = [os.path.join(src, RELEASE_DIR), src]
    release_root = _first_dir_with(roots, IMAGE_DIR)
    if release_root is None:
        raise ConfigError(
            f"no {IMAGE_DIR}/ found in {src} or {os.path.join(src, RELEASE_DIR)}; --src must hold the "
            f"official release ({RELEASE_DIR}/{IMAGE_DIR}/<event>/<date>/<id>.jpg)"
        )
    split_candidates = []
    for base in (src, release_root):
        split_candidates += [base, os.path.join(base, SPLIT_DIR), os.path.join(base, SPLIT_DIR, SPLIT_DIR)]
    first_file = official_split_filename(task, "train")
    split_dir = _first_dir_with(split_candidates, first_file)
    if split_dir is None:
        raise ConfigError(
            f"CrisisMMD split file {first_file} not found under {src}; unpack the benchmark splits "
            f"so that {SPLIT_DIR}/{first_file} (and its dev and test files) lie in --src"
        )
    return release_root, split_dir
