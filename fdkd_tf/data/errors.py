"""The two ways a dataset reports trouble, shared by every loader and preparation."""


class DataFormatError(ValueError):
    """A dataset file is malformed; the message names the file, the line and the fix."""


class DatasetWarning(UserWarning):
    """The data differ from the official release, or bad samples were skipped."""


class MissingProgramError(RuntimeError):
    """A system program a dataset's generator needs is not installed; the message says how to install it."""
