# Sourced by scripts/*: makes sure Bun and the locked dependencies are here.
# Works on a machine that has only Node and npm.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v bun >/dev/null 2>&1; then
  echo "bootstrap: Bun not found, installing it with npm" >&2
  if ! npm install -g bun >&2; then
    # No rights for a global install: keep a project-local copy instead.
    npm install --no-save --prefix .tools bun >&2
    export PATH="$PWD/.tools/node_modules/.bin:$PATH"
  fi
fi
bun --version >/dev/null
if [ ! -d node_modules ] || [ bun.lock -nt node_modules ] || [ package.json -nt node_modules ]; then
  bun install --frozen-lockfile >&2
  touch node_modules
fi
