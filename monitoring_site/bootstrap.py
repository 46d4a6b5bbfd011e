"""Idempotent seeding: roles and their permissions, schedules, a first superuser, then each app.

Seeding creates what is missing and never overwrites what an admin edited. Each app may provide
``<app>/bootstrap.py`` with ``seed(log)``; they run in dependency order (``PROJECT_APPS``).
An app that seeds rows an admin may delete uses :func:`first_time` so a deletion is final too.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.apps import apps
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.db import connection, transaction

from monitoring_site.jobs import PROJECT_APPS, install_schedules
from monitoring_site.models import SeedRecord
from monitoring_site.roles import Role

Log = Callable[[str], None]
# Apps whose objects the roles see, and never change, besides the project's own: django-q2's rows
# name the code the worker runs, so writing them is for superusers only.
_EXTRA_VIEW_APPS = ("django_q",)
# What the admin role holds of django-axes: it sees sign-in attempts and lifts a lockout.
_ADMIN_LOCKOUT_PERMISSIONS = (
    "view_accessattempt",
    "delete_accessattempt",
    "view_accesslog",
    "view_accessfailurelog",
)


def run(log: Log) -> None:
    with _one_at_a_time():
        _run(log)


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    """Hosts starting together bootstrap one after the other (PostgreSQL session lock).

    With SQLite there is one machine, and its IMMEDIATE transactions serialise the writes.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [_BOOTSTRAP_LOCK])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [_BOOTSTRAP_LOCK])


_BOOTSTRAP_LOCK = 0x6D6F6E5F626F6F74  # an arbitrary constant


def _run(log: Log) -> None:
    seed_roles(log)
    report = install_schedules()
    log(
        "schedules: "
        + ", ".join(
            f"{len(names)} {kind}" for kind, names in report.items() if names or kind != "deleted"
        )
    )
    seed_superuser(log)
    for app in PROJECT_APPS[1:]:
        try:
            module = importlib.import_module(f"{app}.bootstrap")
        except ModuleNotFoundError as exc:
            if exc.name != f"{app}.bootstrap":
                raise
            continue
        module.seed(log)


def first_time(key: str) -> bool:
    """True the first time ``key`` is seen, ever; False on every later bootstrap.

    ``if first_time("service:auth"): create it`` seeds a row once, so an admin who deletes or
    edits it is not overruled by the next deployment.
    """
    _, created = SeedRecord.objects.get_or_create(key=key[:255])
    return created


@transaction.atomic
def seed_roles(log: Log) -> None:
    """Create the three groups and grant each permission once.

    Permissions of apps migrated later are granted on the next bootstrap; one an admin took away
    from a group is not granted again.
    """
    for role, permissions in role_permissions().items():
        group, created = Group.objects.get_or_create(name=role.group_name)
        held = set(group.permissions.all())
        new = []
        for permission in permissions:
            # Record every key, also for a group created now, which gets all its permissions.
            fresh = first_time(f"role:{role.group_name}:{_permission_key(permission)}")
            if (fresh or created) and permission not in held:
                new.append(permission)
        group.permissions.add(*new)
        removed = _revoke_forbidden(group)
        state = "created" if created else "exists"
        log(
            f"role {role.group_name}: {state}, +{len(new)} permissions"
            + (f", -{removed} (django_q is read-only for every role)" if removed else "")
        )


def _revoke_forbidden(group: Group) -> int:
    """Take back writes on django-q2's rows, which earlier bootstraps granted the admin role.

    Unlike other permissions, these are removed whoever granted them: a schedule names the code
    the worker runs, and no role short of superuser may choose that.
    """
    forbidden = list(
        group.permissions.filter(content_type__app_label__in=_EXTRA_VIEW_APPS).exclude(
            codename__startswith="view_"
        )
    )
    group.permissions.remove(*forbidden)
    return len(forbidden)


def role_permissions() -> dict[Role, set[Permission]]:
    """What each role is meant to hold: viewers see, operators also act, admins do everything."""
    labels = (*PROJECT_APPS, *_EXTRA_VIEW_APPS)
    permissions = Permission.objects.select_related("content_type")
    project = permissions.filter(content_type__app_label__in=labels)
    viewer = set(project.filter(codename__startswith="view_"))
    own = project.filter(content_type__app_label__in=PROJECT_APPS)
    operator = viewer | set(own.filter(codename__in=_operator_codenames()))
    lockouts = permissions.filter(
        content_type__app_label="axes", codename__in=_ADMIN_LOCKOUT_PERMISSIONS
    )
    admin = viewer | set(own) | set(lockouts)
    return {Role.VIEWER: viewer, Role.OPERATOR: operator, Role.ADMIN: admin}


def _permission_key(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def _operator_codenames() -> list[str]:
    codenames: list[str] = []
    for label in PROJECT_APPS:
        codenames.extend(getattr(apps.get_app_config(label), "operator_permissions", ()))
    return codenames


def seed_superuser(log: Log) -> None:
    """A superuser from ``DJANGO_SUPERUSER_*`` when none exists; an existing one is left alone."""
    username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
    password = os.environ.get("DJANGO_SUPERUSER_PASSWORD", "")
    user_model = get_user_model()
    if user_model.objects.filter(is_superuser=True).exists():
        return
    if not (username and password):
        log(
            "no admin user yet: create one with `.venv/bin/python manage.py createsuperuser` "
            "or set DJANGO_SUPERUSER_USERNAME and DJANGO_SUPERUSER_PASSWORD"
        )
        return
    if user_model.objects.filter(username=username).exists():
        log(f"user {username} exists but is not a superuser; not changing it")
        return
    email = os.environ.get("DJANGO_SUPERUSER_EMAIL", "")
    user_model.objects.create_superuser(username=username, email=email, password=password)
    log(f"superuser {username} created")
