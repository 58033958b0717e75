#!/usr/bin/env python
"""``python tools/prepare_nyudv2.py``: the same program as ``fdkd-prepare nyudv2`` (`fdkd_tf/cli/prepare_nyudv2.py`)."""

import sys

from fdkd_tf.cli.prepare_nyudv2 import main

if __name__ == "__main__":
    sys.exit(main())
