"""The notebooks' committed figures: every component notebook carries one, each is small, and each was drawn by
its current cell with the current world CLIP (else: run `make figures`, tools/make_figures.py)."""
import base64
import json
from pathlib import Path

import pytest

from excel_nb.show import FIGURE_TAG, figure_tag

ROOT = Path(__file__).resolve().parent.parent
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith('_'))
MUST = ['03b_tse', '04_svc', '05_cam', '06_pseudo', '08_cams', '09_lvc', '10_decoder', '12_infer', '12a_show']
MAX_BYTES = 100_000


def _cells(nb:Path) -> list[dict]:
    return [c for c in json.loads(nb.read_text(encoding='utf-8'))['cells'] if c['cell_type'] == 'code']


def _tags(c:dict) -> list[str]: return c.get('metadata', {}).get('tags', [])


@pytest.mark.parametrize('name', MUST)
def test_component_notebook_has_figure(name):
    figs = [c for c in _cells(ROOT/'nbs'/f'{name}.ipynb') if FIGURE_TAG in _tags(c)]
    assert figs, f'{name}.ipynb has no cell tagged {FIGURE_TAG!r}'


@pytest.mark.parametrize('nb', NBS, ids=[p.stem for p in NBS])
def test_figures_drawn_and_current(nb):
    for c in _cells(nb):
        src = ''.join(c['source'])
        if FIGURE_TAG not in _tags(c):
            assert not c.get('outputs'), f'{nb.name}: only figure cells keep outputs; a cell starting {src[:60]!r} has some'
            continue
        pngs = [o['data']['image/png'] for o in c.get('outputs', []) if 'image/png' in o.get('data', {})]
        assert pngs, f'{nb.name}: the figure cell starting {src[:60]!r} has no image; run `make figures`'
        for p in pngs:
            size = len(base64.b64decode(p))
            assert size < MAX_BYTES, f'{nb.name}: a figure of {size} bytes (keep them under {MAX_BYTES})'
        stamp = [t for t in _tags(c) if t.startswith('figure-')]
        assert stamp == [figure_tag(src)], (f'{nb.name}: the figure starting {src[:60]!r} was drawn by another version '
                                            'of its cell or of the world CLIP; run `make figures`')
