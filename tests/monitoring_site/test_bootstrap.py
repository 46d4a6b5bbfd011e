"""`manage.py bootstrap` is idempotent and never overrules an admin's edits."""

from __future__ import annotations

import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.contrib.contenttypes.models import ContentType
from django.core.management import call_command
from django.db import connection
from django_q.models import Schedule

from monitoring_site.bootstrap import first_time
from monitoring_site.jobs import WRAPPER, all_jobs
from monitoring_site.models import JobRun
from tests.monitoring_site.conftest import BASE_DIR, production_env

pytestmark = pytest.mark.django_db


@pytest.fixture
def superuser_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DJANGO_SUPERUSER_USERNAME", "root-admin")
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a long first password")
    monkeypatch.setenv("DJANGO_SUPERUSER_EMAIL", "root@example.com")


@pytest.fixture
def no_superuser_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("USERNAME", "PASSWORD", "EMAIL"):
        monkeypatch.delenv(f"DJANGO_SUPERUSER_{name}", raising=False)


def bootstrap() -> str:
    out = StringIO()
    call_command("bootstrap", stdout=out)
    return out.getvalue()


def state() -> dict[str, Any]:
    return {
        "groups": {
            group.name: sorted(
                f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.all()
            )
            for group in Group.objects.prefetch_related("permissions__content_type")
        },
        "schedules": sorted(
            Schedule.objects.values_list("id", "name", "func", "args", "schedule_type", "cron")
        ),
        "users": sorted(User.objects.values_list("username", "email", "password", "is_superuser")),
    }


def test_bootstrap_twice_gives_the_same_groups_permissions_schedules_and_users(
    superuser_env: None,
) -> None:
    first_output = bootstrap()
    first = state()
    second_output = bootstrap()
    assert state() == first
    assert "bootstrap complete" in first_output and "bootstrap complete" in second_output
    assert "superuser root-admin created" in first_output
    assert "superuser root-admin created" not in second_output


def test_roles_are_nested_viewer_operator_admin(no_superuser_env: None) -> None:
    bootstrap()
    perms = {
        g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()}
        for g in Group.objects.all()
    }
    assert set(perms) == {"viewer", "operator", "admin"}
    assert "monitoring_site.view_jobrun" in perms["viewer"]
    assert "django_q.view_schedule" in perms["viewer"]
    assert all(p.split(".")[1].startswith("view_") for p in perms["viewer"])
    assert perms["viewer"] <= perms["operator"] <= perms["admin"]
    assert "monitoring_site.delete_jobrun" in perms["admin"]
    assert "monitoring_site.delete_jobrun" not in perms["operator"]
    # Django's own users and groups stay with superusers.
    assert not any(p.startswith("auth.") for p in perms["admin"])


def test_bootstrap_installs_a_schedule_for_every_declared_job(no_superuser_env: None) -> None:
    bootstrap()
    installed = set(Schedule.objects.filter(func=WRAPPER).values_list("name", flat=True))
    assert installed == {job.name for job in all_jobs()}


def test_the_superuser_is_created_once_from_the_environment(superuser_env: None) -> None:
    bootstrap()
    user = User.objects.get(username="root-admin")
    assert user.is_superuser and user.is_staff
    assert user.email == "root@example.com"
    assert user.check_password("a long first password")


def test_bootstrap_never_overwrites_an_edited_superuser(
    superuser_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap()
    user = User.objects.get(username="root-admin")
    user.email = "ops@example.com"
    user.set_password("changed by the admin")
    user.save()
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", "a different password in the env")
    bootstrap()
    user.refresh_from_db()
    assert user.email == "ops@example.com"
    assert user.check_password("changed by the admin")
    assert User.objects.filter(is_superuser=True).count() == 1


def test_an_existing_plain_user_with_that_name_is_not_promoted(
    superuser_env: None, make_user: Any
) -> None:
    make_user("root-admin")
    output = bootstrap()
    assert "not changing it" in output
    assert not User.objects.get(username="root-admin").is_superuser


def test_without_the_environment_bootstrap_says_how_to_create_an_admin(
    no_superuser_env: None,
) -> None:
    output = bootstrap()
    assert "manage.py createsuperuser" in output
    assert not User.objects.exists()


def test_a_permission_an_admin_removed_from_a_role_stays_removed(no_superuser_env: None) -> None:
    bootstrap()
    viewer = Group.objects.get(name="viewer")
    view_jobrun = Permission.objects.get(codename="view_jobrun")
    viewer.permissions.remove(view_jobrun)
    bootstrap()
    assert view_jobrun not in viewer.permissions.all()


def test_a_permission_added_by_an_admin_is_kept(no_superuser_env: None) -> None:
    bootstrap()
    viewer = Group.objects.get(name="viewer")
    add_jobrun = Permission.objects.get(codename="add_jobrun")
    viewer.permissions.add(add_jobrun)
    bootstrap()
    assert add_jobrun in viewer.permissions.all()


def test_permissions_of_models_that_appear_later_are_granted_on_the_next_run(
    no_superuser_env: None,
) -> None:
    bootstrap()
    content_type = ContentType.objects.get_for_model(JobRun)
    late = Permission.objects.create(
        codename="view_latething", name="Can view late thing", content_type=content_type
    )
    output = bootstrap()
    assert late in Group.objects.get(name="viewer").permissions.all()
    assert late in Group.objects.get(name="admin").permissions.all()
    assert "role viewer: exists, +1 permissions" in output


def test_a_deleted_role_group_is_recreated(no_superuser_env: None) -> None:
    bootstrap()
    Group.objects.filter(name="operator").delete()
    output = bootstrap()
    assert "role operator: created" in output
    operator = Group.objects.get(name="operator")
    assert operator.permissions.filter(codename="view_jobrun").exists()


def test_no_role_may_write_django_q_rows_after_bootstrap(no_superuser_env: None) -> None:
    """Issue #10: a schedule names the code the worker runs; roles may only look at them."""
    bootstrap()
    for group in Group.objects.all():
        django_q = {
            p.codename for p in group.permissions.filter(content_type__app_label="django_q")
        }
        assert django_q, group.name
        assert all(codename.startswith("view_") for codename in django_q), group.name
    assert "monitoring_site.delete_jobrun" in state()["groups"]["admin"]


def test_bootstrap_takes_back_the_django_q_writes_an_earlier_bootstrap_granted(
    no_superuser_env: None,
) -> None:
    """A database bootstrapped before the fix: its admin group holds add/change/delete on
    django-q2's models and the ledger says they were granted. Re-applying removes them."""
    bootstrap()
    admin = Group.objects.get(name="admin")
    writes = Permission.objects.filter(content_type__app_label="django_q").exclude(
        codename__startswith="view_"
    )
    assert writes.count() >= 12  # add/change/delete of Schedule, Task, Success, Failure, OrmQ...
    admin.permissions.add(*writes)
    for permission in writes:
        first_time(f"role:admin:django_q.{permission.codename}")

    output = bootstrap()

    held = set(admin.permissions.filter(content_type__app_label="django_q"))
    assert held and not held & set(writes)
    assert f"role admin: exists, +0 permissions, -{writes.count()}" in output
    assert "django_q is read-only for every role" in output
    # and it stays that way
    assert "-" not in bootstrap().split("role admin: exists, +0 permissions")[1].split("\n")[0]


def test_first_time_is_true_once_per_key() -> None:
    assert first_time("service:auth") is True
    assert first_time("service:auth") is False
    assert first_time("service:venue") is True


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_hosts_bootstrapping_at_the_same_time_leave_one_of_everything(tmp_path: Path) -> None:
    """Three processes run `bootstrap` at once against one database (as web hosts starting
    together would): all succeed, and every role and schedule exists once."""
    env = production_env(tmp_path, HTTPS="false")
    if connection.vendor == "postgresql":
        db = connection.settings_dict
        env["DATABASE_URL"] = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    else:
        migrate = subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert migrate.returncode == 0, migrate.stderr[-2000:]
    processes = [
        subprocess.Popen(
            [sys.executable, "manage.py", "bootstrap"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    for process in processes:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    counts = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.db.models import Count;"
            "from django.contrib.auth.models import Group; from django_q.models import Schedule;"
            "print(max(Schedule.objects.values('name').annotate(n=Count('id'))"
            ".values_list('n', flat=True)), Group.objects.count())",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert counts.stdout.split() == ["1", "3"], counts.stderr[-2000:]
