#!/usr/bin/env python
"""``python tools/tune.py``: the same program as ``fdkd-tune`` (`fdkd_tf/cli/tune.py`)."""

import sys

from fdkd_tf.cli.tune import main

if __name__ == "__main__":
    sys.exit(main())
