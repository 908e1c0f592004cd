"""The GPU check of issue 14 (tools/gpu_check.sh + tools/gpu_check.py) without a GPU.

`test_gpu_check_dry_run` runs the whole check as its dry run on the CPU, as a person would (install into a fresh
folder, every part at small sizes in its own process) and checks what it measured, not only that files exist.
The other tests drive the orchestration (time limits, failures, dependencies, targets) with trivial commands.
"""
import importlib.util
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location('gpu_check', ROOT/'tools'/'gpu_check.py')
gc = importlib.util.module_from_spec(spec); spec.loader.exec_module(gc)


def golden(name:str) -> Path:
    "A public golden case vendored under tests/golden (a missing one fails the test)."
    p = ROOT/'tests'/'golden'/name
    if not p.exists(): raise FileNotFoundError(f'golden case {p} not found')
    return p


def test_gpu_check_dry_run(tmp_path):
    cases = [str(golden(n)) for n in ('case_small.pack', 'case_train_small.pack')]
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1', 'OUT': ''}
    t0 = time.time()
    r = subprocess.run(['bash', str(ROOT/'tools'/'gpu_check.sh'), '--python', sys.executable, '--wheels', 'none',
                        '--site', str(tmp_path/'site'), '--device', 'cpu', '--dry-run', '--out', str(tmp_path/'out'),
                        '--work', str(tmp_path/'work'), '--golden', *cases],
                       capture_output=True, text=True, timeout=900, env=env)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    print(f'dry run: {time.time() - t0:.1f} s')
    rep = json.loads((tmp_path/'out'/'gpu_check.json').read_text())
    assert (rep['format'], rep['dry_run'], rep['device']) == ('excel-nb-gpu-check/1', True, 'cpu')
    P = rep['parts']
    assert set(P) == set(gc.LIMITS) and rep['selected'] == list(gc.LIMITS)
    assert {k: v['status'] for k, v in P.items()} == {k: 'ok' for k in gc.LIMITS}
    assert all(0 < v['seconds'] <= v['limit_s'] for v in P.values())
    assert rep['summary']['parts_not_ok'] == [] and rep['summary']['checks_unmet'] == []
    assert rep['install_seconds'] > 0 and rep['installed_at'] == str(tmp_path/'site')

    # the project came from the fresh install; torch and the rest from the interpreter's own packages
    mods = P['env']['result']['modules']
    assert not [n for n, m in mods.items() if 'error' in m]
    assert mods['excel_nb']['from_install'] and not mods['torch']['from_install']

    # parity: both cases, every output within its tolerance
    cs = P['parity']['result']['cases']
    assert sorted(cs) == ['case_small.pack', 'case_train_small.pack']
    for c in cs.values():
        assert c['ok'] and c['failed'] == []
        assert all(o['ok'] and o['difference'] <= o['tolerance'] for o in c['outputs'].values())
    assert len(cs['case_small.pack']['outputs']) >= 10

    # bench train at the dry-run shapes, both precisions and phases; bench cams stages
    for amp, name in (('none', 'bench_train_fp32'), ('bf16', 'bench_train_bf16')):
        b = P[name]['result']
        assert (b['amp'], b['batch'], b['crop'], b['model']) == (amp, 2, 64, 'excel-tiny-vit')
        assert b['static_s_per_it'] > 0 and b['dynamic_s_per_it'] > 0 and b['peak_rss_mb'] > 0
        assert f'--amp {amp}' in P[name]['command_equivalent']
    bc = P['bench_cams']['result']
    assert bc['total'] >= bc['clip'] > 0 and bc['par'] > 0 and bc['label_values'][0] == 0

    # cams end to end over the generated VOC tree
    assert P['prep_voc']['result']['n_images'] == 12
    c = P['cams']['result']
    assert c['n_images'] == 12 and c['images_per_s'] > 0 and 0 <= c['mIoU_random_weights'] <= 100
    assert c['wall_seconds'] >= c['loop_seconds'] > 0

    # world: both 6-iteration runs finished with finite losses and a validation mIoU
    for name, dev in (('world_gpu', 'cpu'), ('world_cpu', 'cpu')):
        w = P[name]['result']
        assert w['iters'] == 6 and w['logged_iters'] == 6 and w['losses_finite'] and w['device'].startswith(dev)
        assert 0 <= w['val_mIoU'] <= 100 and all(math.isfinite(v) for v in w['last'].values())
    assert '--amp bf16' in P['world_gpu']['command'] and '--amp none' in P['world_cpu']['command']

    # DDP: two gloo processes on the CPU ended with the same weights, and rank 0 saved them
    d = P['ddp']['result']
    assert (d['world_size'], d['backend'], d['devices'], d['iters']) == (2, 'gloo', ['cpu', 'cpu'], 2)
    assert d['identical'] and d['max_abs_diff_between_ranks'] == 0.0 and d['checkpoint_max_abs_diff'] == 0.0
    assert d['losses_finite'] and d['n_values'] > 1000

    # checks: correctness ones met; speed and memory targets do not apply to a CPU dry run
    met = {c['name']: c['met'] for c in rep['checks']}
    assert met['parity: every golden case within the CPU tolerances'] is True
    assert met['DDP: identical weights on both ranks (max abs difference)'] is True
    assert met['world training: finite losses, GPU bf16'] is True
    assert met["imports: torch is the machine's own, not replaced by the install"] is True
    assert met['train s/it, bf16, dynamic phase'] is None and met['cams images/s (loading to PNG written, after start-up)'] is None
    md = (tmp_path/'out'/'gpu_check.md').read_text()
    assert 'dry run' in md and '| check | value | target | met |' in md and 'parity case_small.pack: OK' in md
    assert (tmp_path/'out'/'gpu_check.log').exists()


def test_job_limits_and_failures(tmp_path):
    "A part that fails or overruns its limit is recorded with its output; the run goes on."
    ok = gc.Job('ok', [sys.executable, '-c', 'print("fine")'], 30, tmp_path)
    bad = gc.Job('bad', [sys.executable, '-c', 'import sys; print("boom"); sys.exit(3)'], 30, tmp_path)
    slow = gc.Job('slow', [sys.executable, '-c', 'import time; time.sleep(60)'], 0.5, tmp_path)
    for j in (ok, bad, slow):
        while not j.poll(): time.sleep(0.05)
    r = {j.name: j.record() for j in (ok, bad, slow)}
    assert (r['ok']['status'], r['ok']['exit_code']) == ('ok', 0) and 'error' not in r['ok']
    assert (r['bad']['status'], r['bad']['exit_code']) == ('failed', 3) and 'boom' in r['bad']['error']
    assert r['slow']['status'] == 'timeout' and r['slow']['seconds'] < 30
    # an output that cannot be read turns a finished part into a failed one
    j = gc.Job('reader', [sys.executable, '-c', 'pass'], 30, tmp_path, after=lambda job, d: {'x': 1 / 0})
    while not j.poll(): time.sleep(0.05)
    assert j.record()['status'] == 'failed' and 'ZeroDivisionError' in j.record()['error']


def test_parts_selection():
    assert gc.selected_parts(None, None) == set(gc.LIMITS)
    assert gc.selected_parts(['world_gpu'], None) == {'env', 'world_gpu', 'prep_world'}
    assert gc.selected_parts(None, ['ddp', 'cams']) == set(gc.LIMITS) - {'ddp', 'cams'}
    with pytest.raises(SystemExit, match='unknown part'): gc.selected_parts(['nosuch'], None)


def _report(**results):
    parts = {k: {'status': 'ok', 'result': v} for k, v in results.items()}
    for k in gc.LIMITS: parts.setdefault(k, {'status': 'failed'})
    return {'dry_run': False, 'device': 'cuda', 'parts': parts, 'installed_at': None}


def test_targets():
    "Targets of issue 14 on made-up figures: met, unmet, and unmet when a part gave no figure."
    env = {'modules': {'torch': {'file': '/x/torch/__init__.py', 'from_install': False}}}
    fast = {'static_s_per_it': 0.05, 'dynamic_s_per_it': 0.055, 'peak_memory_mb': 3000.0}
    rep = _report(env=env, bench_train_bf16=fast, bench_train_fp32={**fast, 'peak_memory_mb': 5000.0},
                  cams={'images_per_s': 80.0}, world_gpu={'losses_finite': True, 'val_mIoU': 30.0},
                  world_cpu={'losses_finite': True, 'val_mIoU': 31.5},
                  ddp={'identical': True, 'max_abs_diff_between_ranks': 0.0, 'checkpoint_max_abs_diff': 0.0})
    met = {c['name']: c['met'] for c in gc.evaluate(rep)}
    assert met['train s/it, bf16, static phase'] is True and met['train s/it, bf16, dynamic phase'] is True
    assert met['train peak GPU memory (allocated, MB), bf16'] is True
    assert met['train peak GPU memory (allocated, MB), fp32'] is False
    assert met['VOC recipe, 30k iterations in bf16 (minutes, projected)'] is True   # 14k x 0.05 + 16k x 0.055 s
    assert met['cams images/s (loading to PNG written, after start-up)'] is False
    assert met['world training: |val mIoU GPU bf16 - CPU fp32| (points)'] is True
    assert met['DDP: identical weights on both ranks (max abs difference)'] is True
    assert met['parity: every golden case within the CPU tolerances'] is False        # the part gave nothing
    assert met['train s/it, fp32, static phase (no target)'] is None
    rep['parts']['world_cpu']['result']['val_mIoU'] = 27.0
    rep['dry_run'] = True
    met = {c['name']: c['met'] for c in gc.evaluate(rep)}
    assert met['world training: |val mIoU GPU bf16 - CPU fp32| (points)'] is False
    assert met['train s/it, bf16, static phase'] is None                                 # no speed target on a dry run
    rep['selected'] = ['env', 'prep_voc', 'cams']                                       # --only cams: the rest is n/a
    met = {c['name']: c['met'] for c in gc.evaluate(rep)}
    assert met['parity: every golden case within the CPU tolerances'] is None
    assert met['DDP: identical weights on both ranks (max abs difference)'] is None
