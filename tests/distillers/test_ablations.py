"""Table 4 presets: the rows and switches of the paper, each a valid config that
builds a distiller."""

from __future__ import annotations

import pytest

from distiller_helpers import CLASSES, make_distiller
from fdkd_tf.config import apply_overrides, config_from_dict
from fdkd_tf.distillers import Direction, build_distiller
from fdkd_tf.distillers.ablations import TABLE4_ABLATIONS, ablation_names, ablation_overrides, ablation_row

# The paper's Table 4 (check marks under Freq, Align, Scale, Log), top to bottom.
PAPER_TABLE4 = [
    (False, False, False, False),
    (True, False, False, False),
    (False, True, False, False),
    (True, True, False, False),
    (True, False, True, False),
    (True, True, True, False),
    (True, True, True, True),
]


def test_rows_match_the_paper_table():
    assert len(TABLE4_ABLATIONS) == 7
    assert [(r.freq, r.align, r.scale, r.log) for r in TABLE4_ABLATIONS] == PAPER_TABLE4
    assert len(set(ablation_names())) == 7
    assert ablation_names()[0] == "baseline" and ablation_names()[-1] == "full"


@pytest.mark.parametrize("name", [row.name for row in TABLE4_ABLATIONS])
def test_every_row_loads_and_builds_a_distiller_with_its_switches(name):
    config = config_from_dict(apply_overrides({}, ablation_overrides(name)), source="test")
    row = ablation_row(name)
    assert config.distill.method == "fdcmkd"
    settings = config.distill.fdcmkd
    assert (settings.freq, settings.align, settings.scale, settings.log) == (row.freq, row.align, row.scale, row.log)
    template = make_distiller("fdcmkd", 16, 8)
    direction = template.directions[0]
    distiller = build_distiller(config.distill, [Direction("b", "student", direction.student, "teacher", direction.teacher)], CLASSES)
    names = set(distiller.term_names())
    assert ("low" in names) == row.freq and ("feat" in names) == (not row.freq)
    assert any(n.startswith("align") for n in names) == row.align


def test_overrides_win_over_the_experiment_file():
    tree = {"distill": {"method": "kd", "fdcmkd": {"freq": True, "log": True}}}
    config = config_from_dict(apply_overrides(tree, ablation_overrides(ablation_row("align"))), source="test")
    assert config.distill.method == "fdcmkd"
    assert not config.distill.fdcmkd.freq and config.distill.fdcmkd.align and not config.distill.fdcmkd.log


def test_unknown_row_names_the_valid_ones():
    with pytest.raises(ValueError, match="freq\\+align\\+scale"):
        ablation_overrides("everything")
