#!/usr/bin/env python
"""``python tools/export.py``: the same program as ``fdkd-export`` (`fdkd_tf/cli/export.py`)."""

import sys

from fdkd_tf.cli.export import main

if __name__ == "__main__":
    sys.exit(main())
