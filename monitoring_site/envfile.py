"""The ``.env`` file: one place for a machine's configuration and its generated secrets.

Settings and the gunicorn configuration call ``load_env_file()`` before reading any variable, so
``manage.py`` commands in a new shell see what ``make run`` sees. The real environment wins over
the file (a blank value counts as unset, as everywhere in the settings). ``ENV_FILE`` names
another file; ``PYTHON_DOTENV_DISABLED=1`` (python-dotenv's own switch, set by the test
configuration) turns the file off.

Run as a script it serves the shell scripts in ``bin/``:

- ``python -m monitoring_site.envfile exports`` prints ``export NAME=value`` lines for what the
  file adds to the environment (``bin/env.sh`` evaluates them, so its defaults do not hide them);
- ``python -m monitoring_site.envfile ensure-secrets`` writes ``SECRET_KEY`` and ``JWT_SECRET``
  into the file when neither the environment nor the file has them (``bin/prepare``).
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import sys
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from dotenv import dotenv_values, set_key

BASE_DIR = Path(__file__).resolve().parent.parent
# Generated on first run; before .env held them, bin/env.sh kept them in these VAR_DIR files.
GENERATED_SECRETS = {"SECRET_KEY": "secret_key", "JWT_SECRET": "jwt_secret"}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_TRUE = {"1", "true", "t", "yes", "y"}  # python-dotenv's reading of PYTHON_DOTENV_DISABLED


class EnvFileError(ImproperlyConfigured):
    """The file exists but cannot be read or written."""


def env_file_path(environ: Mapping[str, str] | None = None) -> Path:
    """``ENV_FILE`` when set, else ``.env`` at the project root."""
    environ = os.environ if environ is None else environ
    return Path(environ.get("ENV_FILE", "").strip() or BASE_DIR / ".env")


def disabled(environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    return environ.get("PYTHON_DOTENV_DISABLED", "").strip().casefold() in _TRUE


def read_env_file(path: Path) -> dict[str, str]:
    """The file's assignments with a value (``NAME=`` and bare ``NAME`` lines are left out)."""
    if not path.is_file():
        return {}
    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as exc:
        raise EnvFileError(f"{path}: cannot read ({exc})") from None
    return {name: value for name, value in values.items() if value is not None and value.strip()}


def additions(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """What the file adds: its values for names the environment leaves unset or blank."""
    environ = os.environ if environ is None else environ
    if disabled(environ):
        return {}
    values = read_env_file(env_file_path(environ))
    return {name: value for name, value in values.items() if not environ.get(name, "").strip()}


def load_env_file() -> dict[str, str]:
    """Fill ``os.environ`` from the file where it has no value; returns what was added."""
    added = additions()
    os.environ.update(added)
    return added


def shell_exports(environ: Mapping[str, str] | None = None) -> str:
    """``export NAME=value`` lines (quoted for the shell) for what the file adds."""
    return "".join(
        f"export {name}={shlex.quote(value)}\n"
        for name, value in sorted(additions(environ).items())
        if _NAME.match(name)
    )


def ensure_secrets(*, path: Path, var_dir: Path, environ: Mapping[str, str]) -> list[str]:
    """Write each missing generated secret into ``path`` (mode 0600); returns what was done.

    A secret is missing when neither the environment nor the file has it (nor its ``_FILE``).
    An older install's ``VAR_DIR`` file is moved in, so sessions and tokens stay valid.
    """
    present = read_env_file(path)
    done = []
    for name, legacy_name in GENERATED_SECRETS.items():
        if any((environ.get(n, "").strip() or present.get(n)) for n in (name, f"{name}_FILE")):
            continue
        legacy = var_dir / legacy_name
        value = legacy.read_text().strip() if legacy.is_file() else ""
        _write(path, name, value or secrets.token_urlsafe(50))
        done.append(f"{name}: {'taken from ' + str(legacy) if value else 'generated'}")
    return done


def _write(path: Path, name: str, value: str) -> None:
    previous = os.umask(0o077)  # a new file (and python-dotenv's temporary copy) is 0600
    try:
        set_key(path, name, value, quote_mode="auto")
        path.chmod(0o600)  # also a file copied from .env.example, once it holds a secret
    except OSError as exc:
        raise EnvFileError(f"{path}: cannot write {name} ({exc.strerror})") from None
    finally:
        os.umask(previous)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    try:
        if command == "exports":
            sys.stdout.write(shell_exports())
            return 0
        if command == "ensure-secrets":
            return _ensure_secrets_command()
    except EnvFileError as exc:
        print(f"env file: {exc}", file=sys.stderr)
        return 1
    print("usage: python -m monitoring_site.envfile exports|ensure-secrets", file=sys.stderr)
    return 2


def _ensure_secrets_command() -> int:
    if disabled():
        return 0
    path = env_file_path()
    var_dir = Path(os.environ.get("VAR_DIR", "").strip() or BASE_DIR / "var")
    for line in ensure_secrets(path=path, var_dir=var_dir, environ=os.environ):
        print(f"{path}: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
