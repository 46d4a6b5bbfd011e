"""The repository documents itself: every relative Markdown link leads to one of its files."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.monitoring_site.conftest import BASE_DIR

LINK = re.compile(r"\]\(([^)\s]+)\)")


def tracked(*patterns: str) -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", *patterns],
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    return [BASE_DIR / name for name in filter(None, listed.split("\0"))]


def broken_links(document: Path) -> list[str]:
    broken = []
    for target in LINK.findall(document.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
            continue  # a URL or an anchor in the same page
        path = (document.parent / target.split("#", 1)[0]).resolve()
        if not path.is_relative_to(BASE_DIR.resolve()) or not path.exists():
            broken.append(f"{document.relative_to(BASE_DIR)}: {target}")
    return broken


def test_every_relative_link_in_the_docs_leads_to_a_file_of_the_repository() -> None:
    documents = tracked("*.md")
    assert BASE_DIR / "docs" / "architecture.md" in documents
    assert [link for document in documents for link in broken_links(document)] == []


def test_no_file_refers_to_the_design_notes_outside_the_repository() -> None:
    mentions = [
        str(path.relative_to(BASE_DIR))
        for path in tracked()
        if path.is_file() and path != Path(__file__) and b"../shared" in path.read_bytes()
    ]
    assert mentions == []
