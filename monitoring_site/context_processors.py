"""What every page's navigation needs: whether the signed-in person may enter the admin."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from monitoring_site.roles import Role, has_role


def navigation(request: HttpRequest) -> dict[str, Any]:
    """``nav_admin``: called by the template only where a page shows the navigation."""
    user = getattr(request, "user", None)
    return {"nav_admin": lambda: user is not None and has_role(user, Role.OPERATOR)}
