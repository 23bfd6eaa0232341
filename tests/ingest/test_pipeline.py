"""The ingest report: exact counts, bounded lists, problems listed once each."""

from __future__ import annotations

from newsqa.ingest.pipeline import (
    ITEMS_LISTED,
    PATHS_COUNTED,
    PROBLEMS_LISTED,
    PROBLEMS_PER_FILE,
    IngestReport,
)
from newsqa.models import LoadProblem, LoadWarning


def test_report_lists_20_problems_per_file_and_counts_the_rest() -> None:
    report = IngestReport()
    for n in range(1, 200_001):
        report.add_problem(LoadProblem("big.jsonl", "not a JSON object", n))
    report.add_problem(LoadWarning("small.jsonl", "unreadable date 'x'", 1))
    assert (report.skipped, report.warnings) == (200_000, 1)
    assert [p.line for p in report.problems] == [*range(1, PROBLEMS_PER_FILE + 1), 1]
    d = report.to_dict()
    assert d["omitted"] == [{"path": "big.jsonl", "count": 200_000 - PROBLEMS_PER_FILE}]
    assert d["problems"][-1] == {"path": "small.jsonl", "line": 1, "kind": "warning",
                                 "reason": "unreadable date 'x'"}
    assert (d["skipped"], d["warnings"]) == (200_000, 1)


def test_report_stays_bounded_for_many_files_and_articles() -> None:
    report = IngestReport()
    files = 3 * PATHS_COUNTED
    for f in range(files):
        for n in range(PROBLEMS_PER_FILE + 2):
            report.add_problem(LoadProblem(f"f{f}.txt", "binary file (contains NUL bytes)", n))
    for n in range(ITEMS_LISTED + 5):
        report.add_item(f"id{n}", "added", f"x.jsonl:{n}")
    assert len(report.problems) == PROBLEMS_LISTED
    assert len(report.omitted) == PATHS_COUNTED + 1  # the rest share the None key
    assert report.skipped == files * (PROBLEMS_PER_FILE + 2)
    assert len(report.problems) + sum(report.omitted.values()) == report.skipped
    assert report.omitted["f0.txt"] == 2
    assert report.omitted[None] == report.skipped - PROBLEMS_LISTED - sum(
        n for path, n in report.omitted.items() if path is not None)
    assert (len(report.items), report.items_omitted) == (ITEMS_LISTED, 5)
    assert report.to_dict()["items_omitted"] == 5
