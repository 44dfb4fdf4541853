#!/usr/bin/env bash
# Registers the tslab TypeScript kernel with Debian's Jupyter in a project-local prefix (.jupyter/,
# gitignored) and compiles lib/ to dist/ so notebooks can `import ... from "../dist/lib/..."`.
#
# Why dist/ and not the .ts sources: tslab type-checks cells with its own TypeScript 5.0 and
# rootDir = the kernel's working directory (notebooks/), so it refuses .ts files outside
# notebooks/ and cannot resolve directory imports of side-compiled modules. The compiled
# .js + .d.ts from our TypeScript (5.9) keep full types in the notebooks and run as plain Node.
#
# Usage: bash scripts/setup-notebooks.sh            (idempotent; prints the JUPYTER_PATH to export)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

# Debian's Python has Jupyter; a pyenv/conda python3 earlier on PATH usually does not.
PY="${RARLHF_NB_PYTHON:-/usr/bin/python3}"
if ! "$PY" -c 'import nbclient, nbformat, jupyter_client' 2>/dev/null; then
  echo "setup-notebooks: $PY lacks nbclient/nbformat/jupyter_client. On Debian/Ubuntu:" >&2
  echo "  apt-get install -y --no-install-recommends jupyter-notebook jupyter-nbconvert python3-nbclient jupyter-client python3-ipykernel" >&2
  echo "or point RARLHF_NB_PYTHON at a python with Jupyter installed." >&2
  exit 1
fi

TSLAB="$ROOT/node_modules/.bin/tslab"
[ -x "$TSLAB" ] || { echo "setup-notebooks: $TSLAB missing; run npm ci first" >&2; exit 1; }
# zeromq's native binary ships inside the npm package (no install script needed); check it loads.
node -e "require('zeromq')" || { echo "setup-notebooks: the zeromq native module does not load" >&2; exit 1; }

PREFIX="$ROOT/.jupyter"
SPEC="$PREFIX/share/jupyter/kernels/tslab/kernel.json"
if [ ! -f "$SPEC" ] || ! grep -q "\"$TSLAB\"" "$SPEC"; then
  "$TSLAB" install --python="$PY" --binary="$TSLAB" --prefix="$PREFIX" >/dev/null
fi

# RARLHF_NB_SKIP_BUILD=1 skips the build (tests of the runner whose notebooks do not import lib).
if [ "${RARLHF_NB_SKIP_BUILD:-0}" = 1 ]; then echo "export JUPYTER_PATH=$PREFIX/share/jupyter"; exit 0; fi
# Emit dist/lib/** even if a file elsewhere has a type error mid-edit (tsc emits anyway); cells
# that use a broken module still fail loudly, and CI type-checks separately.
if ! npx --no-install tsc -p scripts/tsconfig.notebooks.json; then
  echo "setup-notebooks: WARNING: tsc reported errors (output above); dist/ was emitted anyway" >&2
fi
echo "export JUPYTER_PATH=$PREFIX/share/jupyter"
