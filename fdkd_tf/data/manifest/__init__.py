"""Your own paired data: ``data.name: manifest`` reads a CSV of files, one column per modality.

    split,label,image,audio
    train,dog,images/0001.jpg,sounds/0001.wav
    test,cat,images/0107.png,sounds/0107.flac

``data.manifest`` is the CSV; cells are paths relative to it. ``data.teacher`` and
``data.student`` name the columns the two models read (a column literally called
``teacher`` / ``student`` is used when they name none). Each column's kind follows
its files' extension (`table.EXTENSION_KINDS`: audio, image, npy, text, video) unless
``data.teacher_kind`` / ``data.student_kind`` set it; `views` says what each kind
becomes. Classes are the sorted labels, or the lines of ``classes.txt`` beside the
CSV. Rows of split ``val`` validate; without any, ``data.val_fraction`` of each
training class does (fixed by ``data.split_seed``).

Bad rows (unknown split, empty or unknown label, missing, empty or unreadable file,
another kind or array shape than the column's) stop the run with the CSV line, or
are skipped and counted with ``data.on_bad_sample: skip``.

The package is split by job: `table` reads and checks the CSV, `views` decodes a
cell in `tf.data`, `pipeline` builds the bundle and registers ``manifest``,
`fixture` writes a miniature manifest for tests.
"""

from fdkd_tf.data.manifest.fixture import write_manifest_fixture
from fdkd_tf.data.manifest.pipeline import build_manifest, manifest_waveforms
from fdkd_tf.data.manifest.table import EXTENSION_KINDS, KINDS, ManifestTable, read_manifest

__all__ = ["EXTENSION_KINDS", "KINDS", "ManifestTable", "build_manifest", "manifest_waveforms", "read_manifest", "write_manifest_fixture"]
