#!/usr/bin/env python
"""``python tools/analyze.py``: the same program as ``fdkd-analyze`` (`fdkd_tf/cli/analyze.py`)."""

import sys

from fdkd_tf.cli.analyze import main

if __name__ == "__main__":
    sys.exit(main())
