#!/usr/bin/env python
"""``python tools/benchmark.py``: the same program as ``fdkd-benchmark`` (`fdkd_tf/cli/benchmark.py`)."""

import sys

from fdkd_tf.cli.benchmark import main

if __name__ == "__main__":
    sys.exit(main())
