#!/usr/bin/env bash
# Execute the notebooks headless and write their outputs back in place (the committed notebooks
# carry the outputs of such a run). Fails (exit 1) on any cell error, type error or timeout.
#
#   npm run notebooks                         # notebooks/0*.ipynb, teach scale (CI; about 3 min on 2 cores)
#   RARLHF_NB_SCALE=real npm run notebooks    # real IMDB (imdb-mini), small models
#   RARLHF_NB_SCALE=full npm run notebooks    # real IMDB, larger models (an hour or more)
#   bash scripts/run-notebooks.sh notebooks/01-data.ipynb      # a subset
#   RARLHF_NB_OUT=runs/nb bash scripts/run-notebooks.sh         # executed copies elsewhere
#
# Env passed to the notebooks: RARLHF_NB_SCALE (teach|real|full, default teach), RARLHF_DATA_DIR
# (default ../shared/data from the project root). RARLHF_NB_CELL_TIMEOUT: seconds per cell.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

export RARLHF_NB_SCALE="${RARLHF_NB_SCALE:-teach}"
case "$RARLHF_NB_SCALE" in teach|real|full) ;; quick) echo "RARLHF_NB_SCALE=quick was renamed: use teach (demo corpus, the default) or real (real data, small)" >&2; exit 2;; *) echo "RARLHF_NB_SCALE must be teach, real or full" >&2; exit 2;; esac
export RARLHF_DATA_DIR="$(cd "${RARLHF_DATA_DIR:-$ROOT/../shared/data}" && pwd)"
PY="${RARLHF_NB_PYTHON:-/usr/bin/python3}"

bash scripts/setup-notebooks.sh
export JUPYTER_PATH="$ROOT/.jupyter/share/jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"

if [ "$#" -gt 0 ]; then nbs=("$@"); else nbs=(notebooks/0*.ipynb); fi
[ -e "${nbs[0]}" ] || { echo "run-notebooks: no notebooks found" >&2; exit 1; }
default_timeout=900; [ "$RARLHF_NB_SCALE" = full ] && default_timeout=86400
echo "run-notebooks: scale=$RARLHF_NB_SCALE data=$RARLHF_DATA_DIR notebooks=${nbs[*]}"
exec "$PY" scripts/run-notebooks.py --timeout "${RARLHF_NB_CELL_TIMEOUT:-$default_timeout}" \
  ${RARLHF_NB_OUT:+--out "$RARLHF_NB_OUT"} "${nbs[@]}"
