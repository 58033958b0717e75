#!/usr/bin/env python
"""``python tools/prepare_vggsound.py``: the same program as ``fdkd-prepare vggsound`` (`fdkd_tf/cli/prepare_vggsound.py`)."""

import sys

from fdkd_tf.cli.prepare_vggsound import main

if __name__ == "__main__":
    sys.exit(main())
