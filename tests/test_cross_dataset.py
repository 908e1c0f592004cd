"""The cross_dataset table's built-in grid as smoke runs (issue 13): the first world with the source world+voc, and the
second world with a model built (text bank) and trained (a tiny head) on the first world, scored on the shared classes."""
import json
import shutil
from pathlib import Path

from excel_nb.report import run_table
from excel_nb.world import WORLD2_CLASSES, WORLD_CLASSES

ROOT = Path(__file__).resolve().parent.parent


def test_builtin_grid_smoke(tmp_path):
    reports = tmp_path/'reports'
    shutil.copytree(ROOT/'reports'/'params'/'cross_dataset', reports/'params'/'cross_dataset')
    (tmp_path/'smoke.yaml').write_text('smoke: true\n')
    res = run_table('cross_dataset', params=('builtin', str(tmp_path/'smoke.yaml')), reports=reports, allow_smoke=True,
                    log=lambda *a: None)
    assert res['failed'] == [] and len(res['ran']) == 6, res
    by_world = {}   # world -> {seed: run folder}: three K-means (and, on world2, training) seeds per point
    for r in map(Path, res['runs']):
        m = json.loads((r/'metrics.json').read_text())
        seeds = {x['seed'] for x in m['results']}
        assert len(seeds) == 1, seeds
        by_world.setdefault(m['data']['world'], {})[seeds.pop()] = r
    assert sorted(by_world) == ['world', 'world2'] and all(sorted(v) == [0, 1, 2] for v in by_world.values()), by_world
    runs = {w: v[0] for w, v in by_world.items()}
    m1, m2 = (json.loads((runs[w]/'metrics.json').read_text()) for w in ('world', 'world2'))
    assert (by_world['world2'][2]/'train-world-seed2'/'config.json').is_file()   # the training seed follows the grid
    assert m1['data']['root'].startswith('generated: world-') and m2['data']['root'].startswith('generated: world2-')
    assert {r['dataset'] for r in m1['results']} == {'world'} and {r['dataset'] for r in m2['results']} == {'world2'}
    assert {r['row'] for r in m2['results']} == {'in-domain text', 'source text bank (world, 12 classes), mapped',
                                                 'source-trained model (world), mapped'}
    assert any('trained here: 2 iterations on world train' in n for n in m2['notes']), m2['notes']
    assert any('pixels of the target' in n and 'hexagon' in n for n in m2['notes']), m2['notes']
    # the source model was built and trained on the first world's classes and train split
    t = json.loads((runs['world2']/'train-world-seed0'/'config.json').read_text())
    assert t['classes'] == WORLD_CLASSES and t['dataset']['root'].rsplit('/', 1)[-1].startswith('world-')
    # the second world's new classes are left out of its scores: no ground-truth pixels in the per-class areas
    novel = [WORLD2_CLASSES.index(c) + 1 for c in WORLD2_CLASSES if c not in WORLD_CLASSES]
    gt = next(v for k, v in m2['details'].items() if k.startswith('in-domain text | pseudo'))
    assert all(gt['IoU'][i] is None for i in novel), gt
    table = Path(res['md']).read_text()
    assert '| world2 val | source-trained model (world), mapped |' in table and '| world val | in-domain text |' in table
