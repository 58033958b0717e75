"""The bottom layer of file I/O: atomic writes, JSON, the run-directory layout.

Every layer may import it (data preparation, analysis, export, training), and it
imports nothing of the project, so no module has to reach up into `fdkd_tf.training`
for a safe write.

Layout (see docs/architecture.md)::

    DIR/config.yaml            fully resolved config
    DIR/metrics.json           teacher/student accuracies, best epochs, method, seed
    DIR/student.keras          the student (best on validation), loads with `import fdkd_tf`
    DIR/checkpoints/<stage>/   state.json (the commit) + last.e<epoch>.weights.h5 (resume), best*.weights.h5
    DIR/.lock                  held by the running process (RunLock)
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


class RunDirectoryBusy(RuntimeError):
    """Another live process holds the run directory's lock."""


class RunLock:
    """An exclusive lock on a run directory, held for the life of a run.

    ``fcntl.flock`` on ``DIR/.lock``: the kernel releases it when the holder exits,
    however it exits, so the lock of a killed run never blocks its resume. The file
    keeps the holder's PID for the message a second process prints.

    Example:
        >>> with RunLock("runs/mfeat"):
        ...     ...  # train
    """

    FILE = ".lock"

    def __init__(self, root: str):
        self.root = os.path.abspath(root)
        self.path = os.path.join(self.root, self.FILE)
        self._handle = None

    def acquire(self) -> "RunLock":
        import fcntl

        os.makedirs(self.root, exist_ok=True)
        handle = open(self.path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise RunDirectoryBusy(
                f"{self.root} is in use by process {holder} (it holds {self.path}); wait for that run to "
                "finish or stop it, then rerun this command to resume, or choose another --output-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def release(self) -> None:
        if self._handle is not None:
            import fcntl

            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
