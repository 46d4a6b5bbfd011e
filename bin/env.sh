# Sourced by bin/run, bin/web and bin/worker: the one-machine defaults of `make run`.
# Secrets are generated once into var/ when not given, so restarts keep sessions and tokens valid.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
mkdir -p var
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
  [ -s var/secret_key ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > var/secret_key)
  export SECRET_KEY_FILE="$PWD/var/secret_key"
fi
if [ -z "${JWT_SECRET:-}" ] && [ -z "${JWT_SECRET_FILE:-}" ]; then
  [ -s var/jwt_secret ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > var/jwt_secret)
  export JWT_SECRET_FILE="$PWD/var/jwt_secret"
fi
export HTTPS="${HTTPS:-false}"
export PORT="${PORT:-3017}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$PWD/var/prometheus-multiproc}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
