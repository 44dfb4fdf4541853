"""Build notebooks/<name>.ipynb from a percent-format source scripts/notebook-src/<name>.ts.

The .ipynb files are what users open and what CI executes; this converter only bootstraps them
(it drops outputs: re-run `npm run notebooks` afterwards). Source format, as jupytext "percent":

    // %% [markdown]
    // # A title          <- markdown lines, leading "// " stripped
    // %%
    const x = 1;          <- a code cell

Usage: /usr/bin/python3 scripts/nbgen.py scripts/notebook-src/01-data.ts [...]
"""
import hashlib
import os
import sys

import nbformat


def parse(src):
    cells, kind, buf = [], None, []

    def flush():
        if kind is None:
            return
        text = "\n".join(buf).strip("\n")
        if kind == "markdown":
            text = "\n".join(l[3:] if l.startswith("// ") else l[2:] if l.startswith("//") else l
                             for l in text.split("\n"))
        if text.strip():
            cells.append((kind, text))

    for line in src.split("\n"):
        if line.startswith("// %%"):
            flush()
            kind, buf = ("markdown" if "[markdown]" in line else "code"), []
        else:
            buf.append(line)
    flush()
    return cells


def build(path):
    name = os.path.splitext(os.path.basename(path))[0]
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": {"display_name": "TypeScript", "language": "typescript", "name": "tslab"},
        "language_info": {"name": "typescript", "file_extension": ".ts", "mimetype": "text/typescript"},
    }
    for i, (kind, text) in enumerate(parse(open(path).read())):
        cell = nbformat.v4.new_markdown_cell(text) if kind == "markdown" else nbformat.v4.new_code_cell(text)
        cell.id = hashlib.sha1(f"{name}:{i}".encode()).hexdigest()[:8]  # stable ids, stable diffs
        nb.cells.append(cell)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "notebooks", name + ".ipynb")
    nbformat.write(nb, out)
    print("wrote", os.path.relpath(out))


if __name__ == "__main__":
    for p in sys.argv[1:]:
        build(p)
