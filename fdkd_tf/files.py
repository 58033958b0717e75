"""The bottom layer of file I/O: atomic writes, JSON, the run-directory layout.

Every layer may import it (data preparation, analysis, export, training), and it
imports nothing of the project, so no module has to reach up into `fdkd_tf.training`
for a safe write.

Layout (see docs/architecture.md)::

    DIR/config.yaml            fully resolved config
    DIR/metrics.json           teacher/student accuracies, best epochs, method, seed
    DIR/student.keras          the student (best on validation), loads with `import fdkd_tf`
    DIR/checkpoints/<stage>/   last.weights.h5 + state.json (resume), best*.weights.h5
    DIR/logs/<stage>/          TensorBoard
    DIR/cache/{inputs,teacher}/<split>/   disk caches (fdkd_tf.data.sample_store)

Every file is written to a temporary name in the same directory and moved into
place with `os.replace`, so a killed run never leaves a truncated file behind.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile


@contextlib.contextmanager
def atomic_path(path: str):
    """Yields a temporary path beside ``path``; moves it onto ``path`` on success.

    The temporary name keeps the final suffix (Keras checks ``.keras`` and
    ``.weights.h5``).
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    base = os.path.basename(path)
    suffix = ".weights.h5" if base.endswith(".weights.h5") else os.path.splitext(base)[1]
    handle, temporary = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    os.close(handle)
    os.remove(temporary)  # writers create it themselves
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def write_text(path: str, text: str) -> None:
    """Writes ``text`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)


def write_json(path: str, payload) -> None:
    """Writes ``payload`` as indented JSON to ``path`` atomically."""
    write_text(path, json.dumps(payload, indent=2, sort_keys=False) + "\n")


def read_json(path: str):
    """Reads a JSON file, or returns None when it does not exist."""
    if not os.path.exists(path):
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class RunDirectory:
    """Paths of one run (`tools/train.py --output-dir`)."""

    def __init__(self, root: str):
        self.root = os.path.abspath(root)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def config(self) -> str:
        return self.path("config.yaml")

    @property
    def metrics(self) -> str:
        return self.path("metrics.json")

    def checkpoints(self, stage: str) -> str:
        return self.path("checkpoints", stage)

    def logs(self, stage: str) -> str:
        return self.path("logs", stage)

    def student_model(self, name: str | None = None) -> str:
        return self.path("student.keras" if name is None else f"student_{name}.keras")
