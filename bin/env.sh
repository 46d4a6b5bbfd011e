# Sourced by bin/prepare, bin/web and bin/worker: the one-machine defaults of `make run`.
# Secrets are generated once into $VAR_DIR when not given, so restarts keep sessions and tokens valid.
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export VAR_DIR="${VAR_DIR:-$PWD/var}"
mkdir -p "$VAR_DIR"
if [ -z "${SECRET_KEY:-}" ] && [ -z "${SECRET_KEY_FILE:-}" ]; then
  [ -s "$VAR_DIR/secret_key" ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$VAR_DIR/secret_key")
  export SECRET_KEY_FILE="$VAR_DIR/secret_key"
fi
if [ -z "${JWT_SECRET:-}" ] && [ -z "${JWT_SECRET_FILE:-}" ]; then
  [ -s "$VAR_DIR/jwt_secret" ] || (umask 077; .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))' > "$VAR_DIR/jwt_secret")
  export JWT_SECRET_FILE="$VAR_DIR/jwt_secret"
fi
export HTTPS="${HTTPS:-false}"
export PORT="${PORT:-3017}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$VAR_DIR/prometheus-multiproc}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
