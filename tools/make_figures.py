#!/usr/bin/env python
"""Redraw the figures committed in the notebooks (`make figures`; a few minutes on a CPU).

Runs every notebook in nbs/ that has code cells tagged `figure` (or only the notebooks named on the command line),
`slow` cells included and `cuda` cells skipped, keeps the outputs of the figure cells only, and stamps each figure
cell with `excel_nb.show.figure_tag` (a hash of its source and of the world CLIP weights), so that the test suite
(tests/test_figures.py) reports a figure whose cell or CLIP has changed since it was drawn. Run `nbdev_clean`
afterwards (the Makefile target does).
"""
import os
import sys
import time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory

from excel_nb.show import FIGURE_TAG, figure_tag

ROOT = Path(__file__).resolve().parent.parent
SKIP = {'cuda'}  # flags of cells never run here (slow cells draw figures and are run)


def tags(cell) -> list:
    return list((cell.get('metadata') or {}).get('tags') or [])


def flags(cell) -> set:
    "The nbdev directive names (`#| slow`, ...) at the top of a cell."
    out = set()
    for line in cell.source.splitlines():
        if not line.startswith('#|'): break
        out |= {w.rstrip(':') for w in line[2:].split()[:1]}
    return out


def draw(path:Path) -> int:
    "Run one notebook and keep its figure outputs; returns the number of figure cells."
    nb = read_nb(path)
    if not any(FIGURE_TAG in tags(c) for c in nb.cells): return 0
    def skip(cell):
        return cell.cell_type != 'code' or 'nbdev_export(' in cell.source or bool(flags(cell) & SKIP)
    shell = CaptureShell(path)
    with working_directory(path.parent): shell.run_all(nb, exc_stop=True, preproc=skip)
    n = 0
    for c in nb.cells:
        if c.cell_type != 'code': continue
        if FIGURE_TAG in tags(c):
            if not any('image/png' in (o.get('data') or {}) for o in c.outputs):
                raise SystemExit(f'{path.name}: a figure cell drew no image')
            c.metadata['tags'] = [FIGURE_TAG, figure_tag(c.source)]
            c.outputs = [o for o in c.outputs if o.get('output_type') == 'display_data']
            n += 1
        else: c.outputs = []
        c.execution_count = None
    write_nb(nb, path)
    return n


def main(argv:list[str]) -> int:
    os.environ.setdefault('HF_HUB_OFFLINE', '1'); os.environ.setdefault('MPLBACKEND', 'Agg')
    names = set(argv)
    nbs = [p for p in sorted((ROOT/'nbs').glob('*.ipynb')) if not p.name.startswith('_')
           and (not names or p.stem in names or p.name in names)]
    for p in nbs:
        t = time.time()
        n = draw(p)
        if n: print(f'{p.name}: {n} figure(s) redrawn in {time.time() - t:.0f} s', flush=True)
    return 0


if __name__ == '__main__': sys.exit(main(sys.argv[1:]))
