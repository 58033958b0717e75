#!/usr/bin/env python
"""``python tools/train.py``: the same program as ``fdkd-train`` (`fdkd_tf/cli/train.py`)."""

import sys

from fdkd_tf.cli.train import main

if __name__ == "__main__":
    sys.exit(main())
