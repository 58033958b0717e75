"""Tests for fdkd_tf.data.preparation: the resumable job loop and the annotation reader."""

import pytest

from fdkd_tf.data.errors import DataFormatError
from fdkd_tf.data.preparation import PreparationReport, read_annotation_rows, run_jobs


def _prepare_into(done: set):
    def prepare(job):
        if job == "broken":
            raise OSError("cannot decode")
        if job == "empty":
            return "empty file"
        done.add(job)
        return None

    return prepare


@pytest.mark.parametrize("workers", [1, 3])
def test_run_jobs_skips_finished_items_and_names_every_failure(workers):
    done = {"a"}
    report = PreparationReport(dataset="toy", unit="item")
    jobs = {name: name for name in ("a", "b", "broken", "c", "empty")}
    run_jobs(report, jobs, lambda job: job in done, _prepare_into(done), progress=False, workers=workers)
    assert (report.total, report.prepared, report.already_done) == (5, 2, 1)
    assert report.failed == {"broken": "OSError: cannot decode", "empty": "empty file"}
    assert done == {"a", "b", "c"}
    assert "2 failed" in report.summary() and "broken, empty" in report.summary()


def test_run_jobs_can_stop_at_the_first_failure():
    def stop(name, reason):
        raise ValueError(f"{name}: {reason}")

    done = set()
    with pytest.raises(ValueError, match="broken: OSError: cannot decode"):
        run_jobs(PreparationReport("toy"), {"broken": "broken", "b": "b"}, lambda job: False, _prepare_into(done), False, on_failure=stop)
    assert done == set()  # in order: nothing after the failure was prepared


def test_report_is_written_atomically_with_its_counts(tmp_path):
    import json

    report = PreparationReport("toy", total=2, prepared=1, failed={"x": "bad"})
    report.write(str(tmp_path), source="raw")
    written = json.loads((tmp_path / "prepare_report.json").read_text())
    assert written["num_failed"] == 1 and written["source"] == "raw" and written["failed"] == {"x": "bad"}
    assert [p.name for p in tmp_path.iterdir()] == ["prepare_report.json"]


def test_annotation_rows_skip_header_and_blanks_and_keep_quoted_commas(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('clip,label\n\na1,"Male speech, man speaking"\n b2 , dog \n', encoding="utf-8")
    rows = read_annotation_rows(str(path), "toy list", ("clip", "label"), "error", [], header=True)
    assert rows == [(3, ["a1", "Male speech, man speaking"]), (4, ["b2", "dog"])]


def test_annotation_rows_name_the_line_of_a_bad_row_or_record_the_skip(tmp_path):
    path = tmp_path / "rows.txt"
    path.write_text("a&1&2\nb&1\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=r"rows\.txt, line 2: expected 3 '&'-separated fields \(x&y&z\), got 2"):
        read_annotation_rows(str(path), "toy", ("x", "y", "z"), "error", [], delimiter="&")
    skipped = []
    assert read_annotation_rows(str(path), "toy", ("x", "y", "z"), "skip", skipped, delimiter="&") == [(1, ["a", "1", "2"])]
    assert len(skipped) == 1 and "line 2" in skipped[0]
    with pytest.raises(DataFormatError, match="toy not found: .*missing.txt"):
        read_annotation_rows(str(tmp_path / "missing.txt"), "toy", ("x",), "error", [])
