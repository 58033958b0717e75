"""Every fault of a command as one ``error:`` line: what failed, the path, what to do.

`guarded` wraps a command's ``main``: the library's own errors (bad config values,
bad data, busy run directories) and the operating system's (permissions, read-only
or full disks, a file where a directory belongs) end the command with one line on
stderr and a non-zero exit code, never a traceback. Programming errors still raise.
"""

from __future__ import annotations

import errno
import functools
import sys
from typing import Callable

#: exit code of a fault the user can fix (argparse uses 2 as well)
EXIT_USAGE = 2

_OS_HINTS = {
    errno.EACCES: "check its permissions or choose another path",
    errno.EPERM: "check its permissions or choose another path",
    errno.EROFS: "the file system is read-only; choose another path",
    errno.ENOSPC: "the disk is full; free some space and rerun the same command (the last checkpoint is intact)",
    errno.EDQUOT: "the disk quota is exhausted; free some space and rerun the same command",
    errno.ENOTDIR: "a part of that path is a file, not a directory; choose another path",
    errno.EISDIR: "it is a directory; pass a file",
    errno.ENOENT: "it does not exist",
    errno.EEXIST: "it exists already",
}


def os_error_line(error: OSError) -> str:
    """``<path>: <reason>; <what to do>`` for an OS error."""
    reason = error.strerror or str(error)
    path = error.filename if error.filename is not None else ""
    hint = _OS_HINTS.get(error.errno, "")
    text = f"{path}: {reason}" if path else reason
    return f"{text}; {hint}" if hint else text


def guarded(main: Callable[..., int]) -> Callable[..., int]:
    """``main`` with every user-fixable fault turned into one ``error:`` line."""

    @functools.wraps(main)
    def run(argv=None) -> int:
        from fdkd_tf.files import RunDirectoryBusy

        try:
            return main(argv)
        except RunDirectoryBusy as error:
            print(f"error: {error}", file=sys.stderr)
            return EXIT_USAGE
        except UnicodeDecodeError as error:
            print(f"error: a file is not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8", file=sys.stderr)
            return EXIT_USAGE
        except OSError as error:
            print(f"error: {os_error_line(error)}", file=sys.stderr)
            return EXIT_USAGE

    return run
