"""``manage.py test_rules FILE...``: run rule test files against the real evaluator, isolated."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.rules.testing.runner import render_result, run_test_file, summary_counts
from alerts.rules.testing.spec import SpecError, read_test_file


class Command(BaseCommand):
    help = (
        "Run rule unit test files (docs/rules.md, 'Rule tests') on an empty, isolated store; "
        "print a diff per failing check; exit 1 when a test fails or a file is malformed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("files", nargs="+", metavar="FILE", help="YAML rule test files")

    def handle(self, *args: Any, **options: Any) -> None:
        results, broken = [], 0
        for name in options["files"]:
            try:
                text = Path(name).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                self.stderr.write(f"{name}: cannot read the file: {exc}")
                broken += 1
                continue
            try:
                test_file = read_test_file(text, name=name)
            except SpecError as exc:
                self.stderr.write(exc.where(name))
                broken += 1
                continue
            result = run_test_file(test_file)
            self.stdout.write(render_result(result))
            results.append(result)
        passed, failed = summary_counts(results)
        self.stdout.write(f"{passed} passed, {failed} failed, {broken} file(s) not run")
        if failed or broken:
            sys.stdout.flush()
            raise CommandError(f"{failed} test(s) failed, {broken} file(s) not run", returncode=1)
