#!/usr/bin/env python
"""``python tools/prepare_crisismmd.py``: the same program as ``fdkd-prepare crisismmd`` (`fdkd_tf/cli/prepare_crisismmd.py`)."""

import sys

from fdkd_tf.cli.prepare_crisismmd import main

if __name__ == "__main__":
    sys.exit(main())
