"""Execute tslab notebooks headless with nbclient (Debian's python3) and write them back with outputs.

Called by scripts/run-notebooks.sh, which sets JUPYTER_PATH to the project-local tslab kernel.
On a failing cell it prints that cell's stderr (tslab reports type and runtime errors there, which
nbconvert's own message omits), keeps the partial notebook under runs/notebooks/ and exits 1.
"""
import argparse
import os
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError


def first_line(cell):
    src = cell.get("source", "")
    return (src.splitlines() or [""])[0][:70]


def run_one(path, out_path, timeout, kernel):
    nb = nbformat.read(path, as_version=4)
    nbformat.validator.normalize(nb)
    started, seconds = {}, {}
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, record_timing=False,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(path))}},
                            on_cell_start=lambda cell, cell_index: started.__setitem__(cell_index, time.time()),
                            on_cell_executed=lambda cell, cell_index, execute_reply: seconds.__setitem__(
                                cell_index, time.time() - started[cell_index]))
    t0 = time.time()
    error = None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as e:
        error = e
    wall = time.time() - t0
    timings = [(seconds.get(i), i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    name = os.path.basename(path)
    if error is not None:
        os.makedirs("runs/notebooks", exist_ok=True)
        failed = os.path.join("runs/notebooks", "FAILED-" + name)
        nbformat.write(nb, failed)
        print(f"FAIL {name} after {wall:.1f}s: {type(error).__name__}", file=sys.stderr)
        bad = [c for c in nb.cells if c.cell_type == "code" and any(
            o.get("output_type") == "error" or o.get("name") == "stderr" for o in c.get("outputs", []))]
        for c in bad[-1:] or []:
            print("---- failing cell ----\n" + c.source + "\n---- its stderr / error ----", file=sys.stderr)
            for o in c.outputs:
                if o.get("name") == "stderr":
                    print(o.get("text", ""), file=sys.stderr)
                if o.get("output_type") == "error":
                    print("\n".join(o.get("traceback", [])) or o.get("evalue", ""), file=sys.stderr)
        print(str(error)[-2000:], file=sys.stderr)
        print(f"partial notebook written to {failed}", file=sys.stderr)
        return False, wall
    nbformat.write(nb, out_path)
    slow = sorted([t for t in timings if t[0] is not None], key=lambda t: -t[0])[:3]
    detail = ", ".join(f"cell {i} {s:.1f}s ({first_line(c)!r})" for s, i, c in slow)
    print(f"ok   {name}: {wall:.1f}s  slowest: {detail}")
    return True, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per cell")
    ap.add_argument("--out", default="", help="write executed copies here instead of in place")
    ap.add_argument("--kernel", default="tslab")
    args = ap.parse_args()
    ok_all, total = True, 0.0
    for path in args.notebooks:
        out = os.path.join(args.out, os.path.basename(path)) if args.out else path
        if args.out:
            os.makedirs(args.out, exist_ok=True)
        ok, wall = run_one(path, out, args.timeout, args.kernel)
        ok_all &= ok
        total += wall
    print(f"notebooks: {'all ok' if ok_all else 'FAILED'}; total {total:.1f}s")
    sys.exit(0 if ok_all else 1)


if __name__ == "__main__":
    main()
