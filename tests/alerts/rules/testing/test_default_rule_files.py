"""tests/rules/: every default rule has a file that fires, stays quiet just below its threshold
and under its volume guard, and waits out its ``for``; and every file passes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from alerts.bootstrap import seed
from alerts.bootstrap.rules import DEFAULT_RULES
from alerts.rules.testing.spec import TestFile, read_test_file

pytestmark = pytest.mark.django_db
RULE_FILES = Path(__file__).resolve().parents[4] / "tests" / "rules"
SLUGS = [spec["slug"] for spec in DEFAULT_RULES]


@pytest.fixture
def defaults() -> None:
    seed(lambda line: None)


def read(slug: str) -> TestFile:
    path = RULE_FILES / f"{slug}.yaml"
    return read_test_file(path.read_text(), name=str(path))


@pytest.mark.parametrize("slug", SLUGS)
def test_each_default_rule_has_the_four_cases(defaults: None, slug: str) -> None:
    spec = next(spec for spec in DEFAULT_RULES if spec["slug"] == slug)
    test_file = read(slug)
    assert [rule.fields["slug"] for rule in test_file.rules] == [slug]
    states = {e.state for case in test_file.tests for c in case.checks for e in c.expected}
    assert {"firing", "pending"} <= states
    quiet = [
        case.name
        for case in test_file.tests
        if case.checks and all(not check.expected for check in case.checks)
    ]
    assert any("below" in name or "exactly" in name for name in quiet), quiet
    if spec.get("min_volume_expression"):
        assert any("volume guard" in name for name in quiet), quiet


# revenue-drop reads a week of input (offset 1w): the slow pass runs it.
PASSING = [
    pytest.param(slug, marks=pytest.mark.slow) if slug == "revenue-drop" else slug for slug in SLUGS
]


@pytest.mark.parametrize("slug", PASSING)
def test_each_default_rule_file_passes(defaults: None, slug: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("test_rules", str(RULE_FILES / f"{slug}.yaml"), stdout=out, stderr=err)
    except CommandError:
        pytest.fail(out.getvalue() + err.getvalue())
    assert "0 failed, 0 file(s) not run" in out.getvalue()
    assert "FAIL" not in out.getvalue()


def test_every_file_in_tests_rules_tests_a_default_rule() -> None:
    assert sorted(path.stem for path in RULE_FILES.glob("*.yaml")) == sorted(SLUGS)
