"""The command-line programs, installed as console scripts by ``pip install -e .``.

``fdkd-train``, ``fdkd-tune``, ``fdkd-export``, ``fdkd-analyze``, ``fdkd-benchmark`` and
``fdkd-prepare DATASET``; ``python tools/<name>.py`` runs the same ``main``. Each is a
thin layer over the library: argument parsing, one-line errors, exit codes.
"""
