"""The end-of-run line for browser tests skipped without Chromium, and CI's refusal of it."""

from types import SimpleNamespace

from tests.browser_skips import REASON, browser_skips, in_ci, summary_line


def report(nodeid, skipped=True, why=REASON):
    return SimpleNamespace(nodeid=nodeid, skipped=skipped, longrepr=("conftest.py", 1, f"Skipped: {why}"))


def test_only_browser_tests_skipped_for_want_of_chromium_are_counted():
    reports = [
        report("tests/e2e/test_pages.py::test_home"),
        report("tests/e2e/test_pages.py::test_day"),
        report("tests/e2e/test_pages.py::test_other", why="needs redis"),
        report("tests/loyalty/test_coupons.py::test_x"),
    ]
    assert browser_skips(reports) == 2
    line = summary_line(2)
    assert line.startswith("2 browser tests skipped") and "apt-get install -y chromium" in line


def test_ci_true_is_recognised():
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"})
    assert not in_ci({}) and not in_ci({"CI": "false"})
