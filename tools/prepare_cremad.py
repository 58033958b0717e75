#!/usr/bin/env python
"""``python tools/prepare_cremad.py``: the same program as ``fdkd-prepare cremad`` (`fdkd_tf/cli/prepare_cremad.py`)."""

import sys

from fdkd_tf.cli.prepare_cremad import main

if __name__ == "__main__":
    sys.exit(main())
