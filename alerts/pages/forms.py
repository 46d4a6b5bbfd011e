"""The forms of the alert pages: the alert filters and the silence made from an alert."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms

from alerts.models import Alert
from alerts.models.silences import LABEL_NAME_RE, MAX_VALUE_LENGTH
from alerts.pages.selectors import AlertFilters, service_of
from alerts.severity import Severity

ANY = [("", "any")]
SLUG_RE = r"^[-a-zA-Z0-9_]{1,200}\Z"


class AlertFilterForm(forms.Form):
    """``?severity=&state=&source=&service=&rule=``: an unknown value is named, never ignored."""

    severity = forms.ChoiceField(choices=ANY + Severity.choices, required=False)
    state = forms.ChoiceField(choices=ANY + Alert.State.choices, required=False)
    source = forms.ChoiceField(choices=ANY + Alert.Source.choices, required=False)
    service = forms.RegexField(
        regex=r"^[-a-zA-Z0-9_.]{1,64}\Z",
        required=False,
        error_messages={"invalid": "Expected a service slug (letters, digits, - _ .)."},
    )
    rule = forms.RegexField(
        regex=SLUG_RE, required=False, error_messages={"invalid": "Expected a rule slug."}
    )

    def __init__(self, *args: Any, services: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.services = services
        self.fields["service"].widget.attrs["list"] = "services"

    def filters(self) -> AlertFilters:
        data = self.cleaned_data
        return AlertFilters(**{name: data.get(name) or "" for name in self.fields})

    def problems(self) -> list[str]:
        """``"severity: Select a valid choice. x is not one of the available choices."``"""
        return [f"{name}: {' '.join(map(str, errors))}" for name, errors in self.errors.items()]


DURATIONS = [(1, "1 hour"), (2, "2 hours"), (4, "4 hours"), (8, "8 hours"), (24, "24 hours")]


def silence_labels(alert: Alert) -> dict[str, str]:
    """What a silence made from ``alert`` may match: alertname and the alert's own labels."""
    labels = {"alertname": alert.rule_name}
    service = service_of(alert)
    if service:
        labels["service"] = service
    for name, value in sorted((alert.labels or {}).items()):
        if LABEL_NAME_RE.fullmatch(str(name)) and len(str(value)) <= MAX_VALUE_LENGTH:
            labels[str(name)] = str(value)
    return labels


class SilenceForm(forms.Form):
    """A silence from an alert: which of its labels to match, for how long, and why."""

    labels = forms.MultipleChoiceField(
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one label to match."},
    )
    hours = forms.TypedChoiceField(choices=DURATIONS, coerce=int, initial=2, label="For")
    comment = forms.CharField(max_length=1000, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, alert: Alert, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alert_labels = silence_labels(alert)
        field = self.fields["labels"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = [(name, f'{name}="{value}"') for name, value in self.alert_labels.items()]

    def matchers(self) -> list[dict[str, str]]:
        """One equality matcher per chosen label, its value read from the alert itself."""
        chosen = self.cleaned_data["labels"]
        return [{"name": name, "op": "=", "value": self.alert_labels[name]} for name in chosen]

    def duration(self) -> timedelta:
        return timedelta(hours=self.cleaned_data["hours"])


def silence_initial(alert: Alert, *, username: str) -> dict[str, Any]:
    """The two-click default: every label of the alert, two hours, a comment naming who."""
    return {
        "labels": list(silence_labels(alert)),
        "hours": 2,
        "comment": f"Silenced from alert #{alert.pk} by {username}.",
    }
