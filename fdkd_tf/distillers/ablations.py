"""The paper's Table 4 as a preset list: FD-CMKD's four switches, row by row.

Each row switches ``distill.fdcmkd.freq`` (frequency decomposition), ``align``
(shared classifiers), ``scale`` (feature standardization) and ``log`` (logMSE on
the high band) as the paper's ablation does. The first row, every switch off, is
the original feature distillation: `FrequencyDecoupledDistillation` with all four
off computes exactly the ``feat`` baseline (one MSE on the projected features),
so the table can be run as seven ``fdcmkd`` configurations.

Example:
    >>> ablation_overrides("freq+scale")
    ['distill.method=fdcmkd', 'distill.fdcmkd.freq=true', 'distill.fdcmkd.align=false', \
'distill.fdcmkd.scale=true', 'distill.fdcmkd.log=false']
"""

from __future__ import annotations

import dataclasses

SWITCHES = ("freq", "align", "scale", "log")


@dataclasses.dataclass(frozen=True)
class AblationRow:
    """One row of Table 4: a name (usable on a command line and as a folder name),
    the label the paper's table would show, and the four switches."""

    name: str
    label: str
    freq: bool
    align: bool
    scale: bool
    log: bool

    def switches(self) -> dict:
        """``{"freq": ..., "align": ..., "scale": ..., "log": ...}``."""
        return {switch: getattr(self, switch) for switch in SWITCHES}


#: Table 4, top to bottom.
TABLE4_ABLATIONS: tuple[AblationRow, ...] = (
    AblationRow("baseline", "Baseline (feat)", freq=False, align=False, scale=False, log=False),
    AblationRow("freq", "Freq", freq=True, align=False, scale=False, log=False),
    AblationRow("align", "Align", freq=False, align=True, scale=False, log=False),
    AblationRow("freq+align", "Freq + Align", freq=True, align=True, scale=False, log=False),
    AblationRow("freq+scale", "Freq + Scale", freq=True, align=False, scale=True, log=False),
    AblationRow("freq+align+scale", "Freq + Align + Scale", freq=True, align=True, scale=True, log=False),
    AblationRow("full", "Freq + Align + Scale + Log (FD-CMKD)", freq=True, align=True, scale=True, log=True),
)


def ablation_names() -> list[str]:
    """Names of the Table 4 rows, in the table's order."""
    return [row.name for row in TABLE4_ABLATIONS]


def ablation_row(name: str) -> AblationRow:
    """The Table 4 row called ``name``.

    Raises:
        ValueError: naming the valid rows when ``name`` is not one.
    """
    for row in TABLE4_ABLATIONS:
        if row.name == name:
            return row
    raise ValueError(f"unknown Table 4 ablation {name!r}; choose one of {', '.join(ablation_names())}")


def ablation_overrides(row) -> list[str]:
    """The ``--set`` overrides that select one Table 4 row.

    Args:
        row: an `AblationRow` or its name.

    Returns:
        ``["distill.method=fdcmkd", "distill.fdcmkd.freq=true", ...]``, to pass
        to `fdkd_tf.config.load_config` (or ``tools/train.py --set``) after the
        experiment's own overrides.

    Raises:
        ValueError: for an unknown row name.
    """
    if isinstance(row, str):
        row = ablation_row(row)
    overrides = ["distill.method=fdcmkd"]
    overrides += [f"distill.fdcmkd.{switch}={'true' if value else 'false'}" for switch, value in row.switches().items()]
    return overrides
