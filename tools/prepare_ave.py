#!/usr/bin/env python
"""``python tools/prepare_ave.py``: the same program as ``fdkd-prepare ave`` (`fdkd_tf/cli/prepare_ave.py`)."""

import sys

from fdkd_tf.cli.prepare_ave import main

if __name__ == "__main__":
    sys.exit(main())
