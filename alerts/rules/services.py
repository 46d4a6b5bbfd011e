"""Writes of rules: every door (API, admin, bootstrap) saves and deletes rules through these."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction

from alerts.actors import ENGINE, UserLike, actor_name, user_row
from alerts.models import Rule
from alerts.services import resolve_rule_alerts

logger = logging.getLogger(__name__)


class RuleProtected(Exception):
    """The built-in rule cannot be deleted (the API answers 409, the admin offers no delete)."""


@transaction.atomic
def save_rule(
    *,
    rule: Rule,
    user: UserLike,
    channels: Iterable[Any] | None = None,
    reason: str = "",
) -> Rule:
    """Store a validated rule (new or edited); disabling it resolves its open alerts.

    The row is locked first, so an evaluation in progress waits and then sees the rule disabled.
    ``channels`` (when given) replaces its ``notification_channels``.
    """
    was_enabled = rule.pk is not None and bool(
        Rule.objects.select_for_update()
        .filter(pk=rule.pk)
        .values_list("enabled", flat=True)
        .first()
    )
    rule._history_user = user_row(user)  # type: ignore[attr-defined]
    if reason:
        rule._change_reason = reason  # type: ignore[attr-defined]
    rule.save()
    if channels is not None:
        rule.notification_channels.set(channels)
    if was_enabled and not rule.enabled:
        resolved = resolve_rule_alerts(
            rule=rule, actor=actor_name(user, default=ENGINE), reason="rule disabled"
        )
        logger.info("rule disabled", extra={"rule": rule.slug, "resolved": resolved})
    return rule


def create_rule(*, fields: Mapping[str, Any], user: UserLike, reason: str = "") -> Rule:
    """A new rule from validated fields (``notification_channels`` may be among them)."""
    values = dict(fields)
    channels = values.pop("notification_channels", None)
    return save_rule(rule=Rule(**values), user=user, channels=channels, reason=reason)


def update_rule(*, rule: Rule, changes: Mapping[str, Any], user: UserLike) -> Rule:
    """Apply validated changes to ``rule``; disabling it resolves its open alerts."""
    values = dict(changes)
    channels = values.pop("notification_channels", None)
    for name, value in values.items():
        setattr(rule, name, value)
    return save_rule(rule=rule, user=user, channels=channels)


@transaction.atomic
def delete_rule(*, rule: Rule, user: UserLike) -> int:
    """Resolve the rule's open alerts, then delete it; returns how many alerts it resolved.

    Its alerts stay (they keep the rule's name and expression) with an empty ``rule``.
    """
    if rule.builtin:
        raise RuleProtected("The built-in rule cannot be deleted; disable it instead.")
    locked = Rule.objects.select_for_update().get(pk=rule.pk)
    resolved = resolve_rule_alerts(
        rule=locked, actor=actor_name(user, default=ENGINE), reason="rule deleted"
    )
    locked._history_user = user_row(user)  # type: ignore[attr-defined]
    locked.delete()
    logger.info("rule deleted", extra={"rule": rule.slug, "resolved": resolved})
    return resolved
