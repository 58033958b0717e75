#!/usr/bin/env python
"""``python tools/prepare_spoken_digits.py``: the same program as ``fdkd-prepare spoken_digits`` (`fdkd_tf/cli/prepare_spoken_digits.py`)."""

import sys

from fdkd_tf.cli.prepare_spoken_digits import main

if __name__ == "__main__":
    sys.exit(main())
