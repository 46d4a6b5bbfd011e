"""Issue #10, item 1: no role short of superuser can make the worker run code it did not ship with.

First fence: django-q2's rows are read-only in the admin for every role. Second fence: the worker
runs only declared jobs and task functions, whatever a schedule row or a queued task names.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing import Value
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.admin import site
from django.contrib.auth.models import User
from django.test import Client, RequestFactory
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Failure, OrmQ, Schedule, Success, Task
from django_q.monitor import monitor
from django_q.queues import Queue
from django_q.scheduler import scheduler
from django_q.signing import SignedPackage
from django_q.tasks import async_task
from django_q.worker import worker

from monitoring_site import jobs
from monitoring_site.bootstrap import seed_roles
from monitoring_site.jobs import PROJECT_APPS, WRAPPER, Job
from monitoring_site.models import JobRun
from monitoring_site.worker_guard import REFUSE_TASK, allowed_functions, refusal_reason

DECLARED_RUNS: list[str] = []


def write_marker(path: str) -> str:
    """A task function some tests declare: proof that it ran."""
    Path(path).write_text("ran")
    return "written"


def declared_job() -> str:
    """A job some tests declare."""
    DECLARED_RUNS.append("ran")
    return "ok"


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    """The file `touch` would create if the worker ran the attacker's command."""
    return tmp_path / "pwned"


@pytest.fixture
def broker() -> Iterator[Any]:
    queue = get_broker()
    queue.purge_queue()
    yield queue
    queue.purge_queue()


def run_queued(broker: Any) -> list[dict[str, Any]]:
    """What a cluster does with the queue: pull, execute in the worker, store via the monitor."""
    task_queue, result_queue, stored = Queue(), Queue(), Queue()
    while pulled := broker.dequeue():
        for ack_id, package in pulled:
            task = SignedPackage.loads(package)
            task["ack_id"] = ack_id
            task_queue.put(task)
    task_queue.put("STOP")
    worker(task_queue, result_queue, Value("f", -1))
    result_queue.put("STOP")
    results = list(iter(result_queue.get, "STOP"))
    for task in results:
        stored.put(dict(task))
    stored.put("STOP")
    monitor(stored, broker)
    return results


def refused_runs() -> list[JobRun]:
    return list(JobRun.objects.filter(job__startswith="refused: ").order_by("id"))


# --- the guard's rule ------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("task", "problem"),
    [
        ({"func": "os.system", "args": ("id",)}, "os.system is not a declared job or task"),
        ({"func": "builtins.exec", "args": ("1",)}, "builtins.exec is not a declared"),
        ({"func": WRAPPER, "args": ("no.such.job",)}, "'no.such.job' is not a declared job"),
        ({"func": WRAPPER, "args": ()}, "takes exactly one argument"),
        (
            {"func": WRAPPER, "args": ("site.cleanup",), "kwargs": {"func": "os.system"}},
            "takes exactly one argument",
        ),
        (
            {"func": WRAPPER, "args": ("site.cleanup",), "hook": "os.system"},
            "result hook os.system is not allowed",
        ),
    ],
)
def test_undeclared_work_is_refused_with_a_reason(task: dict[str, Any], problem: str) -> None:
    reason = refusal_reason(task)
    assert reason is not None and problem in reason


@pytest.mark.django_db
def test_every_declared_job_and_task_passes_the_guard() -> None:
    for job in jobs.all_jobs():
        assert refusal_reason({"func": WRAPPER, "args": (job.name,), "kwargs": {}}) is None
        assert refusal_reason({"func": job.func, "args": ()}) is None
    assert "alerts.notifications.tasks.dispatch_due" in jobs.all_tasks()
    assert refusal_reason({"func": "alerts.notifications.tasks.dispatch_due"}) is None


@pytest.mark.django_db
def test_a_function_object_is_judged_by_its_dotted_path(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    refused = refusal_reason({"func": os.system})
    assert refused == f"{os.system.__module__}.system is not a declared job or task function"
    monkeypatch.setattr(jobs, "all_tasks", lambda: [f"{__name__}.write_marker"])
    assert refusal_reason({"func": write_marker, "args": ("x",)}) is None


def _async_task_targets() -> list[tuple[str, str | None]]:
    """(file, dotted path) of the first argument of every ``async_task(...)`` in the apps."""
    found: list[tuple[str, Any]] = []
    base = Path(settings.BASE_DIR)
    for app in PROJECT_APPS:
        for path in sorted((base / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            constants = {
                target.id: node.value.value
                for node in tree.body
                if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            for call in ast.walk(tree):
                if not isinstance(call, ast.Call):
                    continue
                name = getattr(call.func, "id", None) or getattr(call.func, "attr", None)
                if name != "async_task" or not call.args:
                    continue
                first = call.args[0]
                value = first.value if isinstance(first, ast.Constant) else None
                if isinstance(first, ast.Name):
                    value = constants.get(first.id)
                found.append((str(path.relative_to(base)), value))
    return found


@pytest.mark.django_db
def test_every_async_task_in_the_code_names_a_declared_function() -> None:
    """A new ``async_task`` of an undeclared function would be refused by the worker: declare
    it in the app's ``TASKS`` (``<app>/jobs.py``)."""
    targets = _async_task_targets()
    assert ("alerts/notifications/outbox.py", "alerts.notifications.tasks.dispatch_due") in targets
    allowed = allowed_functions()
    undeclared = [(where, func) for where, func in targets if func not in allowed]
    assert undeclared == []


# --- the guard at work: the worker and the scheduler, in this process --------------------------


@pytest.mark.django_db(transaction=True)
def test_a_queued_task_naming_os_system_is_refused_by_the_worker_and_recorded(
    broker: Any, marker: Path
) -> None:
    """A package signed like any task but that skipped the enqueue guard (as a forged or
    legacy queue entry would) reaches the worker: the command never runs."""
    package = {
        "id": "f" * 32,
        "name": "forged-task",
        "func": "os.system",
        "args": (f"touch {marker}",),
        "kwargs": {},
        "hook": "os.system",
        "started": timezone.now(),
    }
    broker.enqueue(SignedPackage.dumps(package))

    [result] = run_queued(broker)

    assert not marker.exists()
    assert result["success"] is False
    assert "os.system is not a declared job or task function" in result["result"]
    assert result["args"] == (f"touch {marker}",)  # stored as queued, not the veto stand-in
    failure = Failure.objects.get(name="forged-task")
    assert failure.func == "os.system"
    assert "not a declared job or task function" in failure.result
    assert "hook" not in result
    [run] = refused_runs()
    assert run.job == "refused: os.system"
    assert run.outcome == JobRun.Outcome.FAILURE
    assert run.error == "refused: os.system is not a declared job or task function"


@pytest.mark.django_db(transaction=True)
def test_enqueuing_an_undeclared_function_queues_a_refusal_not_the_call(
    broker: Any, marker: Path
) -> None:
    """Even asked to run synchronously, the refused task goes to a worker, which records it."""
    async_task("os.system", f"touch {marker}", task_name="sneaky", sync=True)
    assert not marker.exists()
    [(_, package)] = broker.dequeue()
    task = SignedPackage.loads(package)
    assert task["func"] == REFUSE_TASK
    assert task["args"] == ("os.system", "os.system is not a declared job or task function")
    assert "sync" not in task and task["kwargs"] == {}
    broker.enqueue(package)

    [result] = run_queued(broker)

    assert result["success"] is False
    assert "TaskRefused" in result["result"]
    assert not marker.exists()
    assert Failure.objects.get(name="sneaky").func == REFUSE_TASK
    assert [run.job for run in refused_runs()] == ["refused: os.system"]


@pytest.mark.django_db(transaction=True)
def test_a_tampered_schedule_naming_os_system_never_runs_and_the_other_jobs_still_do(
    broker: Any, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The probe's reproduction: a schedule row with ``func=os.system`` (here also asking to run
    inside the scheduler). The scheduler turns it into a refusal; a declared job due at the same
    tick is queued as usual."""
    DECLARED_RUNS.clear()
    declared = Job(name="t.declared", func=f"{__name__}.declared_job", minutes=1)
    monkeypatch.setattr(jobs, "all_jobs", lambda: [declared])
    past = timezone.now() - timedelta(minutes=1)
    Schedule.objects.create(
        name="innocent-looking",
        func="os.system",
        args=repr(f"touch {marker}"),
        kwargs="{'q_options': {'sync': True}}",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        next_run=past,
    )
    Schedule.objects.create(
        name="t.declared",
        func=WRAPPER,
        args="'t.declared'",
        schedule_type=Schedule.MINUTES,
        minutes=1,
        next_run=past,
    )

    scheduler(broker=broker)
    results = {task["group"]: task for task in run_queued(broker)}

    assert not marker.exists()
    assert results["innocent-looking"]["success"] is False
    assert results["innocent-looking"]["func"] == REFUSE_TASK
    assert results["t.declared"]["success"] is True
    assert DECLARED_RUNS == ["ran"]
    assert [run.job for run in refused_runs()] == ["refused: os.system"]
    assert JobRun.objects.get(job="t.declared").outcome == JobRun.Outcome.SUCCESS
    assert Schedule.objects.get(name="innocent-looking").next_run > past


@pytest.mark.django_db(transaction=True)
def test_a_declared_task_function_runs_in_the_worker(
    broker: Any, marker: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    declared = f"{__name__}.write_marker"
    monkeypatch.setattr(jobs, "all_tasks", lambda: [declared])
    async_task(declared, str(marker), task_name="declared")

    [result] = run_queued(broker)

    assert result["success"] is True
    assert marker.read_text() == "ran"
    assert Success.objects.get(name="declared").result == "written"
    assert refused_runs() == []


# --- first fence: django-q2's pages are read-only for every role ----------------------------


@pytest.fixture
def roles_seeded(db: Any) -> None:
    seed_roles(lambda line: None)


def _schedule() -> Schedule:
    return Schedule.objects.create(
        name="site.cleanup", func=WRAPPER, args="'site.cleanup'", schedule_type=Schedule.DAILY
    )


@pytest.mark.parametrize("who", ["admin", "operator"])
def test_a_role_user_may_view_django_q_pages_but_not_add_a_schedule(
    roles_seeded: None, request: pytest.FixtureRequest, who: str
) -> None:
    user: User = request.getfixturevalue(who)
    client = Client()
    client.force_login(user)
    assert client.get("/admin/django_q/schedule/").status_code == 200
    assert client.get("/admin/django_q/schedule/add/").status_code == 403
    form = {"name": "x", "func": "os.system", "args": "'id'", "schedule_type": "I", "minutes": 1}
    response = client.post("/admin/django_q/schedule/add/", form)
    assert response.status_code == 403
    assert not Schedule.objects.exists()


def test_the_admin_role_cannot_change_or_delete_a_schedule(roles_seeded: None, admin: User) -> None:
    schedule = _schedule()
    client = Client()
    client.force_login(admin)
    page = client.get(f"/admin/django_q/schedule/{schedule.pk}/change/")
    assert page.status_code == 200
    assert b'name="func"' not in page.content  # shown read-only
    changed = client.post(
        f"/admin/django_q/schedule/{schedule.pk}/change/",
        {"name": "cleanup", "func": "os.system", "args": "'id'", "schedule_type": "D"},
    )
    assert changed.status_code == 403
    deleted = client.post(f"/admin/django_q/schedule/{schedule.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 403
    schedule.refresh_from_db()
    assert schedule.func == WRAPPER


@pytest.mark.parametrize("path", ["success", "failure"])
def test_the_admin_role_cannot_resubmit_stored_tasks(
    roles_seeded: None, admin: User, broker: Any, path: str
) -> None:
    task = Task.objects.create(
        id="a" * 32,
        name="old-run",
        func="os.system",
        args=("id",),
        kwargs={},
        started=timezone.now(),
        stopped=timezone.now(),
        success=path == "success",
    )
    client = Client()
    client.force_login(admin)
    response = client.post(
        f"/admin/django_q/{path}/",
        {"action": "resubmit_task", "_selected_action": [task.pk]},
    )
    assert response.status_code == 403  # an action the user may not run is refused, not ignored
    assert broker.queue_size() == 0
    assert Task.objects.filter(pk=task.pk).exists()


def test_a_superuser_still_manages_schedules(superuser: User) -> None:
    client = Client()
    client.force_login(superuser)
    assert client.get("/admin/django_q/schedule/add/").status_code == 200
    schedule = _schedule()
    response = client.post(f"/admin/django_q/schedule/{schedule.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Schedule.objects.exists()


def test_every_django_q_page_is_read_only_for_the_admin_role(
    roles_seeded: None, admin: User, rf: RequestFactory
) -> None:
    request = rf.get("/admin/")
    request.user = admin
    checked = []
    for model in (Schedule, Success, Failure, OrmQ):
        if not site.is_registered(model):
            continue  # OrmQ's page exists only with the ORM broker
        model_admin = site.get_model_admin(model)
        assert model_admin.has_view_permission(request)
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
        assert not model_admin.has_delete_permission(request)
        assert model_admin.get_actions(request) == {}
        checked.append(model)
    assert {Schedule, Success, Failure} <= set(checked)


# --- a real qcluster --------------------------------------------------------------------------

_SETUP = """
import django; django.setup()
from datetime import timedelta
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.models import Schedule
from django_q.signing import SignedPackage
Schedule.objects.create(name="tampered", func="os.system", args={schedule_args!r},
    schedule_type=Schedule.MINUTES, minutes=1, next_run=timezone.now() - timedelta(minutes=1))
get_broker().enqueue(SignedPackage.dumps({{"id": "f" * 32, "name": "forged", "func": "os.system",
    "args": ({queue_args!r},), "kwargs": {{}}, "started": timezone.now()}}))
"""
_READ = """
import django, json; django.setup()
from django_q.models import Failure
from monitoring_site.models import JobRun
refused = JobRun.objects.filter(job__startswith="refused: ").values_list("job", flat=True)
failed = Failure.objects.values_list("name", flat=True)
print(json.dumps({"refused": sorted(refused), "failed": sorted(failed)}))
"""


@pytest.mark.slow
def test_a_running_qcluster_refuses_a_tampered_schedule_and_a_forged_queue_entry(
    tmp_path: Path,
) -> None:
    """The probe's attack against the real worker processes (SQLite file, ORM broker)."""
    import json
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.monitoring_site.conftest import BASE_DIR, production_env

    env = production_env(tmp_path, HTTPS="false", Q_WORKERS="1")

    def python(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        return done

    python("manage.py", "migrate", "--noinput")
    by_schedule, by_queue = tmp_path / "pwned-by-schedule", tmp_path / "pwned-by-queue"
    python(
        "-c",
        _SETUP.format(schedule_args=repr(f"touch {by_schedule}"), queue_args=f"touch {by_queue}"),
    )
    log = (tmp_path / "qcluster.log").open("w")
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120  # the scheduler wakes 30 s after start
        seen: dict[str, list[str]] = {}
        while time.monotonic() < deadline:
            seen = json.loads(python("-c", _READ).stdout)
            if len(seen["failed"]) >= 2:
                break
            time.sleep(2)
    finally:
        os.killpg(cluster.pid, signal.SIGTERM)
        try:
            cluster.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait()

    log.close()
    output = (tmp_path / "qcluster.log").read_text()
    assert seen["refused"] == ["refused: os.system", "refused: os.system"], output[-3000:]
    assert "forged" in seen["failed"] and len(seen["failed"]) == 2, seen
    assert not by_schedule.exists()
    assert not by_queue.exists()
