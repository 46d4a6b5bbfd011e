"""The apps depend in one direction: metrics_app and health never import alerts (issue #12).

Read from the source (the AST), so an import hidden in a function or under TYPE_CHECKING counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imported_modules(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def imports_of(app: str, forbidden: str) -> list[str]:
    return sorted(
        f"{path.relative_to(ROOT)}: {module}"
        for path in (ROOT / app).rglob("*.py")
        for module in imported_modules(path)
        if module == forbidden or module.startswith(f"{forbidden}.")
    )


@pytest.mark.parametrize("app", ["health", "metrics_app"])
def test_the_app_never_imports_alerts(app: str) -> None:
    assert imports_of(app, "alerts") == []


def test_the_check_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    module = tmp_path / "sneaky.py"
    module.write_text("def f():\n    from alerts.models import Alert\n    return Alert\n")
    assert "alerts.models" in imported_modules(module)


def test_the_rule_language_reads_metrics_through_metrics_app_selectors_only() -> None:
    language = [
        module
        for path in (ROOT / "alerts" / "language").rglob("*.py")
        for module in imported_modules(path)
        if module.startswith("metrics_app.")
    ]
    assert not [m for m in language if m.startswith("metrics_app.models")]
    assert not any(
        "connection" in imported_modules(path) or "django.db.connection" in imported_modules(path)
        for path in (ROOT / "alerts" / "language").rglob("*.py")
    )
