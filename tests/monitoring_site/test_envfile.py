"""One mechanism for configuration: .env, read by settings and gunicorn, written by bin/prepare."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from monitoring_site.envfile import (
    additions,
    disabled,
    ensure_secrets,
    read_env_file,
    shell_exports,
)
from tests.monitoring_site.conftest import BASE_DIR, PYTHON, Run

SETTINGS = (
    "import json, django; django.setup(); from django.conf import settings as s;"
    "print(json.dumps([s.SECRET_KEY, s.SIMPLE_JWT['SIGNING_KEY'], s.PORT, s.DEBUG]))"
)


def write(path: Path, text: str, mode: int = 0o644) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


@pytest.fixture
def env_file(tmp_path: Path) -> Path:
    return tmp_path / ".env"


def test_the_file_fills_in_what_the_environment_leaves_unset_and_the_environment_wins(
    env_file: Path,
) -> None:
    write(env_file, "SECRET_KEY=from-file\nPORT=8080\nDEBUG=true\nHTTPS=\n# a comment\n")
    environ = {"ENV_FILE": str(env_file), "SECRET_KEY": "from-env", "PORT": " "}

    assert additions(environ) == {"PORT": "8080", "DEBUG": "true"}


def test_the_test_switch_turns_the_file_off(env_file: Path) -> None:
    write(env_file, "DEBUG=true\n")
    environ = {"ENV_FILE": str(env_file), "PYTHON_DOTENV_DISABLED": "1"}

    assert additions(environ) == {}


def test_this_suite_never_reads_a_developers_env_file() -> None:
    assert disabled() is True
    assert os.environ["PYTHON_DOTENV_DISABLED"] == "1"


def test_values_are_taken_literally_quotes_and_export_prefixes_as_in_a_shell(
    env_file: Path,
) -> None:
    write(
        env_file,
        "SMTP_PASS=${HOME}$x\nexport ALERT_FROM_EMAIL=ops@example.com\n"
        "SLACK_CHANNEL='#ops alerts'\nSITE_URL=\"https://m.example.com\"  # public\n",
    )

    assert read_env_file(env_file) == {
        "SMTP_PASS": "${HOME}$x",  # no interpolation: a password keeps its dollar signs
        "ALERT_FROM_EMAIL": "ops@example.com",
        "SLACK_CHANNEL": "#ops alerts",
        "SITE_URL": "https://m.example.com",
    }


def test_a_file_that_is_not_utf8_stops_start_up_naming_it(env_file: Path) -> None:
    env_file.write_bytes(b"SECRET_KEY=\xff\xfe\n")

    with pytest.raises(ImproperlyConfigured, match=str(env_file)):
        read_env_file(env_file)


def test_shell_exports_survive_bash_quoting(env_file: Path) -> None:
    write(env_file, 'SMTP_PASS="it\'s $(rm -rf /) `x` \\"q\\""\nPORT=8080\nbad-name=1\n')
    exports = shell_exports({"ENV_FILE": str(env_file), "PATH": os.environ["PATH"]})

    shown = subprocess.run(
        ["bash", "-c", 'eval "$EXPORTS"; printf "%s|%s" "$SMTP_PASS" "$PORT"'],
        env={"PATH": os.environ["PATH"], "EXPORTS": exports},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert shown.stdout == 'it\'s $(rm -rf /) `x` "q"|8080', shown.stderr
    assert "bad-name" not in exports


def test_first_run_generates_both_secrets_into_a_private_file(env_file: Path) -> None:
    done = ensure_secrets(path=env_file, var_dir=env_file.parent / "var", environ={})

    values = read_env_file(env_file)
    assert done == ["SECRET_KEY: generated", "JWT_SECRET: generated"]
    assert sorted(values) == ["JWT_SECRET", "SECRET_KEY"]
    assert len(values["SECRET_KEY"]) >= 50 and len(values["JWT_SECRET"]) >= 50
    assert values["SECRET_KEY"] != values["JWT_SECRET"]
    assert env_file.stat().st_mode & 0o777 == 0o600


def test_later_runs_keep_the_secrets_so_sessions_and_tokens_stay_valid(env_file: Path) -> None:
    ensure_secrets(path=env_file, var_dir=env_file.parent, environ={})
    first = env_file.read_text()

    assert ensure_secrets(path=env_file, var_dir=env_file.parent, environ={}) == []
    assert env_file.read_text() == first


def test_a_secret_the_environment_gives_is_not_generated(env_file: Path) -> None:
    environ = {"SECRET_KEY": "k" * 60, "JWT_SECRET_FILE": "/run/secrets/jwt"}

    assert ensure_secrets(path=env_file, var_dir=env_file.parent, environ=environ) == []
    assert not env_file.exists()


def test_an_older_install_keeps_its_secrets_from_var(tmp_path: Path, env_file: Path) -> None:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    write(var_dir / "secret_key", "old-secret-key-" + "s" * 40 + "\n", 0o600)
    write(var_dir / "jwt_secret", "old-jwt-secret-" + "j" * 40 + "\n", 0o600)

    done = ensure_secrets(path=env_file, var_dir=var_dir, environ={})

    assert read_env_file(env_file) == {
        "SECRET_KEY": "old-secret-key-" + "s" * 40,
        "JWT_SECRET": "old-jwt-secret-" + "j" * 40,
    }
    assert done == [
        f"SECRET_KEY: taken from {var_dir / 'secret_key'}",
        f"JWT_SECRET: taken from {var_dir / 'jwt_secret'}",
    ]


def test_a_copy_of_env_example_gets_its_blank_secrets_filled_in_place(env_file: Path) -> None:
    example = (BASE_DIR / ".env.example").read_text()
    write(env_file, example, 0o644)

    ensure_secrets(path=env_file, var_dir=env_file.parent, environ={})

    text = env_file.read_text()
    assert text.count("\nSECRET_KEY=") == 1 and text.count("\nJWT_SECRET=") == 1
    assert read_env_file(env_file)["SECRET_KEY"] != ""
    assert len(text.splitlines()) == len(example.splitlines())  # every other line kept
    assert env_file.stat().st_mode & 0o777 == 0o600  # it holds secrets now


def test_manage_py_in_a_new_shell_reads_the_secrets_bin_prepare_wrote(
    run_django: Run, env_file: Path
) -> None:
    fresh = {"SECRET_KEY": None, "JWT_SECRET": None, "PYTHON_DOTENV_DISABLED": None}
    written = run_django(
        code="from monitoring_site.envfile import main; raise SystemExit(main(['ensure-secrets']))",
        ENV_FILE=str(env_file),
        **fresh,
    )
    assert written.returncode == 0, written.stderr[-2000:]

    result = run_django(code=SETTINGS, ENV_FILE=str(env_file), **fresh)

    assert result.returncode == 0, result.stderr[-2000:]
    values = read_env_file(env_file)
    assert result.stdout.strip() == (
        f'["{values["SECRET_KEY"]}", "{values["JWT_SECRET"]}", 3017, false]'
    )


def test_the_real_environment_wins_over_the_file(run_django: Run, env_file: Path) -> None:
    write(env_file, f"SECRET_KEY={'f' * 60}\nJWT_SECRET={'g' * 60}\nPORT=8080\n")

    result = run_django(
        code=SETTINGS,
        ENV_FILE=str(env_file),
        PYTHON_DOTENV_DISABLED=None,
        SECRET_KEY="e" * 60,
        JWT_SECRET=None,
        PORT="9090",
    )

    assert result.stdout.strip() == f'["{"e" * 60}", "{"g" * 60}", 9090, false]', result.stderr


def test_gunicorn_reads_the_same_file(run_django: Run, env_file: Path) -> None:
    write(env_file, "PORT=8123\nWEB_CONCURRENCY=3\n")

    result = run_django(
        code="import runpy; c = runpy.run_path('monitoring_site/gunicorn.conf.py');"
        "print(c['bind'], c['workers'])",
        ENV_FILE=str(env_file),
        PYTHON_DOTENV_DISABLED=None,
    )

    assert result.stdout.strip() == "['127.0.0.1:8123'] 3", result.stderr[-2000:]


# --- a newcomer's first hour, from a clean checkout ---------------------------------------------


def clean_checkout(target: Path) -> Path:
    """The repository's files as a fresh clone has them (no var/, no .env), and the venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=BASE_DIR,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = BASE_DIR / name
        if source.is_file() and not source.is_symlink():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(Path(sys.prefix))
    return target


@pytest.mark.slow
def test_a_fresh_clone_prepares_and_every_manage_py_command_works_in_a_new_shell(
    tmp_path: Path,
) -> None:
    clone = clean_checkout(tmp_path / "clone")
    home = tmp_path / "home"
    home.mkdir()
    shell = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "LANG": "C.UTF-8"}

    def run(*command: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(command),
            cwd=clone,
            env={**shell, **extra},
            capture_output=True,
            text=True,
            timeout=600,
        )

    prepared = run("bin/prepare")
    assert prepared.returncode == 0, prepared.stdout[-2000:] + prepared.stderr[-2000:]
    assert (clone / ".env").stat().st_mode & 0o777 == 0o600
    assert sorted(read_env_file(clone / ".env")) == ["JWT_SECRET", "SECRET_KEY"]

    # What the README and `make run` tell a newcomer to type, in a shell that sourced nothing.
    admin = run(
        ".venv/bin/python",
        "manage.py",
        "createsuperuser",
        "--noinput",
        "--username",
        "newcomer",
        "--email",
        "newcomer@example.com",
        DJANGO_SUPERUSER_PASSWORD="a newcomer's long password",
    )
    assert admin.returncode == 0, admin.stderr[-2000:]
    assert "Superuser created successfully." in admin.stdout
    token = run(".venv/bin/python", "manage.py", "create_ingest_token", "payment")
    assert token.returncode == 0, token.stderr[-2000:]
    assert len(token.stdout.strip()) >= 32
    assert "It is shown only now" in token.stderr
    # A second bin/prepare keeps the secrets (restarts keep sessions and tokens valid).
    before = (clone / ".env").read_text()
    again = run("bin/prepare")
    assert again.returncode == 0, again.stderr[-2000:]
    assert (clone / ".env").read_text() == before


def test_env_file_module_runs_as_a_script_without_django_settings() -> None:
    """bin/env.sh calls it before anything is configured: it must not need settings."""
    result = subprocess.run(
        [PYTHON, "-m", "monitoring_site.envfile", "exports"],
        cwd=BASE_DIR,
        env={"PATH": os.environ["PATH"], "PYTHON_DOTENV_DISABLED": "1"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stderr
