"""The worker runs only what the project declares: its jobs, by name, and its task functions.

django-q2 calls whatever dotted path a task names, ``Schedule.func`` included, so anyone able to
write a schedule row could make the worker call ``os.system``. Two signal receivers stop that:

* ``pre_enqueue``, where a task is made (in the scheduler for schedules), turns an undeclared task
  into :func:`refuse_task`: the named module is never imported, and the refusal travels to a worker
  like any task, never synchronously inside the scheduler (whose transaction it would roll back);
* ``pre_execute``, in the worker just before the call, stops anything undeclared that reached a
  worker another way.

Either way the refusal is logged, written as a failed :class:`JobRun` (its job is
``refused: <func>``) and stored by django-q2 as a failed task.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator, Mapping
from typing import Any, NoReturn

from django.dispatch import receiver
from django.utils import timezone
from django_q.signals import post_execute_in_worker, pre_enqueue, pre_execute

from monitoring_site import jobs
from monitoring_site.models import JobRun

logger = logging.getLogger(__name__)

REFUSE_TASK = "monitoring_site.worker_guard.refuse_task"
# Task options that would run code or skip the worker; a refused task loses them.
_DROPPED_OPTIONS = ("hook", "sync", "chain", "cached")


class TaskRefused(Exception):
    """The worker refused a task that names no declared job or task function."""


def allowed_functions() -> frozenset[str]:
    """The job wrapper, every declared job's function and every declared task function."""
    declared = [job.func for job in jobs.all_jobs()] + jobs.all_tasks()
    return frozenset({jobs.WRAPPER, REFUSE_TASK, *declared})


def dotted_name(func: Any) -> str:
    """The dotted path a task names (django-q2 accepts a path or a function object)."""
    if isinstance(func, str):
        return func
    module, name = getattr(func, "__module__", None), getattr(func, "__qualname__", None)
    if module and name:
        return f"{module}.{name}"
    return f"<{type(func).__name__}>"


def refusal_reason(task: Mapping[str, Any]) -> str | None:
    """Why the worker must not run ``task`` (a django-q2 task package), or None."""
    func = dotted_name(task.get("func"))
    if func not in allowed_functions():
        return f"{func} is not a declared job or task function"
    if task.get("hook"):
        return f"result hook {dotted_name(task['hook'])} is not allowed"
    if func == jobs.WRAPPER:
        return _wrapper_problem(task.get("args") or (), task.get("kwargs") or {})
    return None


def _wrapper_problem(args: Any, kwargs: Any) -> str | None:
    """The wrapper runs one declared job by name; its ``func`` override is for tests only."""
    names = {job.name for job in jobs.all_jobs()}
    args = tuple(args)
    if kwargs or len(args) != 1:
        return f"{jobs.WRAPPER} takes exactly one argument, a declared job name"
    if args[0] not in names:
        return f"{jobs.WRAPPER}: {str(args[0])[:100]!r} is not a declared job"
    return None


def record_refusal(*, func: str, reason: str, task_name: str | None = None) -> Any:
    """Log the refusal and write it as a failed job run (what operators and /metrics see)."""

    logger.error(
        "worker refused a task: %s",
        reason,
        extra={"func": func[:200], "task": task_name or ""},
    )
    now = timezone.now()
    return JobRun.objects.create(
        job=f"refused: {func}"[:100],
        started_at=now,
        finished_at=now,
        duration_ms=0.0,
        outcome=JobRun.Outcome.FAILURE,
        error=f"refused: {reason}"[:4000],
        host=socket.gethostname()[:255],
        pid=os.getpid(),
    )


def refuse_task(func: str, reason: str) -> NoReturn:
    """What an undeclared task became when it was enqueued: record the refusal, and fail."""
    record_refusal(func=str(func), reason=str(reason))
    raise TaskRefused(reason)


@receiver(pre_enqueue, dispatch_uid="monitoring_site.worker_guard.enqueue")
def _refuse_at_enqueue(sender: Any, task: dict[str, Any], **kwargs: Any) -> None:
    reason = refusal_reason(task)
    if reason is None:
        return
    logger.warning("refusing to enqueue %s: %s", dotted_name(task.get("func")), reason)
    for option in _DROPPED_OPTIONS:
        task.pop(option, None)
    task.update(func=REFUSE_TASK, args=(dotted_name(task.get("func")), reason), kwargs={})


class _Veto:
    """Stands in for a refused task's arguments: unpacking it raises :class:`TaskRefused`.

    ``pre_execute`` cannot cancel the call, but django-q2 unpacks the arguments inside its own
    ``try`` (``f(*task["args"], ...)``), so the call fails before the function runs and the task is
    stored as failed with this message. ``post_execute_in_worker`` puts the arguments back.
    """

    def __init__(self, original: Any, reason: str) -> None:
        self.original = original
        self.reason = reason

    def __iter__(self) -> Iterator[Any]:
        raise TaskRefused(self.reason)


@receiver(pre_execute, dispatch_uid="monitoring_site.worker_guard.execute")
def _refuse_at_execution(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    reason = refusal_reason(task)
    if reason is None:
        return
    task.pop("hook", None)  # the monitor would call it with the stored task
    record_refusal(func=dotted_name(task.get("func")), reason=reason, task_name=task.get("name"))
    task["args"] = _Veto(task.get("args", ()), reason)


@receiver(post_execute_in_worker, dispatch_uid="monitoring_site.worker_guard.restore")
def _restore_arguments(sender: Any, task: dict[str, Any], **kwargs: Any) -> None:
    if isinstance(task.get("args"), _Veto):
        task["args"] = task["args"].original
