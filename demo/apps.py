from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The platform simulator and `make demo`: no models, nothing mounted outside demo mode."""

    name = "demo"
    verbose_name = "Demo"
    operator_permissions: tuple[str, ...] = ()
