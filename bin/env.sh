# Sourced by bin/prepare, bin/web and bin/worker: the one-machine defaults of `make run`.
# .env (or ENV_FILE) first, the real environment winning, so the defaults below do not hide it;
# bin/prepare writes generated secrets there (monitoring_site/envfile.py).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exports=$(.venv/bin/python -m monitoring_site.envfile exports) || return 1
eval "$exports"
unset exports
export VAR_DIR="${VAR_DIR:-$PWD/var}"
mkdir -p "$VAR_DIR"
export HTTPS="${HTTPS:-false}"
export PORT="${PORT:-3017}"
export PROMETHEUS_MULTIPROC_DIR="${PROMETHEUS_MULTIPROC_DIR:-$VAR_DIR/prometheus-multiproc}"
mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
