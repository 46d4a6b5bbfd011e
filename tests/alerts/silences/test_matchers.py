"""Matcher semantics: each operator, missing labels, anchored regexes, pseudo-labels, checks."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from alerts.models import Alert, MaintenanceWindow, Rule, Silence
from alerts.models.silences import matcher_matches, validate_matchers
from alerts.silences.services import alert_labels


def m(name: str, op: str, value: str) -> dict[str, str]:
    return {"name": name, "op": op, "value": value}


@pytest.mark.parametrize(
    ("op", "value", "label", "expected"),
    [
        ("=", "payment", "payment", True),
        ("=", "payment", "payments", False),
        ("!=", "payment", "payment", False),
        ("!=", "payment", "order", True),
        ("=~", "pay.*", "payment", True),
        ("=~", "pay", "payment", False),  # anchored: a prefix is not a match
        ("=~", "order|payment", "payment", True),
        ("!~", "pay.*", "payment", False),
        ("!~", "pay.*", "order", True),
        ("!~", "ment", "payment", True),  # anchored for negation too
    ],
)
def test_each_operator_matches_the_whole_label_value(
    op: str, value: str, label: str, expected: bool
) -> None:
    assert matcher_matches(m("service", op, value), label) is expected


def test_a_missing_label_is_the_empty_string_as_in_alertmanager() -> None:
    silence = Silence(matchers=[m("service", "=", "payment"), m("team", "!=", "web")])

    assert silence.matches({"service": "payment"}) is True
    assert silence.matches({"service": "payment", "team": "web"}) is False
    assert silence.matches({"team": "core"}) is False


def test_every_matcher_must_match() -> None:
    silence = Silence(matchers=[m("service", "=", "payment"), m("severity", "=~", "crit.*")])

    assert silence.matches({"service": "payment", "severity": "critical"}) is True
    assert silence.matches({"service": "payment", "severity": "warning"}) is False


def test_alertname_matches_the_rule_name_or_its_slug_and_negation_excludes_both() -> None:
    rule = Rule(name="High payment error rate", slug="high-payment-error-rate")
    alert = Alert(
        rule=rule,
        rule_name=rule.name,
        severity="critical",
        source="rule",
        labels={"service": "payment"},
    )
    labels = alert_labels(alert)

    assert Silence(matchers=[m("alertname", "=", "High payment error rate")]).matches(labels)
    assert Silence(matchers=[m("alertname", "=", "high-payment-error-rate")]).matches(labels)
    assert Silence(matchers=[m("alertname", "=~", "high-payment.*")]).matches(labels)
    assert not Silence(matchers=[m("alertname", "!=", "high-payment-error-rate")]).matches(labels)
    assert Silence(matchers=[m("alertname", "!=", "Disk full")]).matches(labels)


def test_severity_and_source_are_pseudo_labels_that_win_over_an_alert_label() -> None:
    alert = Alert(
        rule_name="Queue backlog",
        severity="warning",
        source="anomaly",
        labels={"severity": "critical", "service": "queue"},
    )
    labels = alert_labels(alert)

    assert labels["severity"] == "warning"
    assert Silence(matchers=[m("source", "=", "anomaly")]).matches(labels)
    assert not Silence(matchers=[m("severity", "=", "critical")]).matches(labels)


def test_a_service_down_alert_carries_its_service_for_maintenance_windows() -> None:
    alert = Alert(rule_name="Service down", severity="critical", source="health", labels={})
    alert.details = {"service": "payment"}
    window = MaintenanceWindow(services=["payment", "order"])

    assert window.matches(alert_labels(alert)) is True
    assert window.matches({"service": "ticket"}) is False
    assert window.matches({}) is False


def test_alertmanager_is_regex_and_is_equal_are_accepted_as_the_operator() -> None:
    matchers = validate_matchers(
        [
            {"name": "service", "value": "pay.*", "isRegex": True, "isEqual": False},
            {"name": "team", "value": "core"},
        ]
    )

    assert matchers == [m("service", "!~", "pay.*"), m("team", "=", "core")]


def problems(raw: Any) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        validate_matchers(raw)
    return caught.value.message_dict["matchers"]


def test_bad_matchers_are_refused_with_the_position_and_key() -> None:
    assert problems([]) == ["Expected a non-empty list of matchers."]
    assert problems({"service": "payment"}) == ["Expected a non-empty list of matchers."]
    assert problems([m("service", "==", "payment")]) == [
        "0.op: unknown operator '=='; expected one of =, !=, =~, !~"
    ]
    assert problems([m("service", "=", "x"), m("1bad", "=", "x")]) == [
        "1.name: expected a label name ([a-zA-Z_][a-zA-Z0-9_]*)"
    ]
    assert problems([{"name": "service", "value": 3, "op": "="}]) == ["0.value: expected a string"]
    assert problems([{"name": "a", "value": "b", "op": "=", "extra": 1}]) == [
        "0.unknown key(s) extra"
    ]


def test_invalid_and_overlong_regexes_are_refused_and_nested_repetition_is_accepted() -> None:
    assert problems([m("service", "=~", "pay(")]) == ["0.value: regex missing ): pay("]
    assert problems([m("service", "=~", "(?!pay).*")]) == [
        "0.value: regex look-ahead and look-behind are not supported (RE2 syntax) at character 1"
    ]
    assert validate_matchers([m("service", "=~", "(a+)+")])  # RE2 matches it in linear time
    assert problems([m("service", "=~", "a" * 201)]) == [
        "0.value: regex longer than 200 characters"
    ]


def test_a_silence_that_would_match_every_alert_is_refused() -> None:
    assert problems([m("service", "=~", ".*")]) == [
        "At least one matcher must not match the empty string."
    ]
    assert problems([m("service", "!=", "payment")]) == [
        "At least one matcher must not match the empty string."
    ]
