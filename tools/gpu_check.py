#!/usr/bin/env python3
"""One prepared check of excel_nb on a CUDA machine (issue 14): parity, speed and memory against the targets,
bf16 training on the GPU against fp32 training on the CPU, and data-parallel training.

Run it through `tools/gpu_check.sh`, which first installs the project and the wheels in `.whl/` without network.
Every part runs in its own process under a time limit; a part that fails or runs out of time is recorded and the
others go on. Writes `gpu_check.json`, `gpu_check.md` and `gpu_check.log` to `--out` (default: $OUT).

    tools/gpu_check.sh --out "$OUT"                     # on a CUDA machine, about 4 minutes on an H200
    tools/gpu_check.sh --device cpu --dry-run --out D   # every part at small sizes on the CPU

The orchestrator uses the standard library only (it never initialises CUDA); the parts call the project's own
functions (`run_parity`, `bench_train`, `bench_cams`, `make_voc_tree`, `make_world`, `train`) and commands
(`excel-nb cams`, `excel-nb train`, `excel-nb world make`, and `torchrun` for DDP).
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FORMAT = 'excel-nb-gpu-check/1'
CLI = 'import sys; from excel_nb.cli import main; sys.exit(main())'   # `excel-nb` with this very interpreter

# targets (issue 14): the paper trains 30k iterations in 90 min on an RTX 3090 with 3.2 GB of GPU memory
TARGET_S_PER_IT = 0.06        # bf16, each phase, H100/H200 class: 30k iterations in 30 minutes
TARGET_PEAK_MB = 3.2 * 1024   # training peak (CUDA allocator), both precisions
TARGET_IMG_PER_S = 100.0      # `excel-nb cams` over VOC-size images, loading to PNG written
TARGET_MIOU_GAP = 2.0         # world training: |GPU bf16 - CPU fp32| validation mIoU, points
VOC_SWITCH = (14_000, 16_000)  # VOC recipe: static-phase and dynamic-phase iterations of the 30k

# sizes of a real run and of a dry run
SIZES = {
    'real': dict(bench_model='ViT-B-16-quickgelu', bench_batch=4, bench_crop=320, bench_iters=20, bench_warmup=3,
                 cams_image=320, cams_label='375x500', cams_repeats=5, voc_n=500, voc_size=(375, 500),
                 voc_model=[], cams_batch=16, cams_workers=6,
                 world_train=200, world_val=100, world_iters=300, world_sets=[], world_image=[],
                 ddp_iters=20, cpu_threads=8, part_threads=4),
    'dry': dict(bench_model='excel-tiny-vit', bench_batch=2, bench_crop=64, bench_iters=1, bench_warmup=1,
                cams_image=64, cams_label='60x80', cams_repeats=1, voc_n=12, voc_size=(60, 80),
                voc_model=['--model', 'excel-tiny-vit', '--image-size', '64', '--B', '8'], cams_batch=4,
                cams_workers=1, world_train=8, world_val=4, world_iters=6,
                world_sets=['batch_size=2', 'crop_size=96'], world_image=['--image-size', '96'],
                ddp_iters=2, cpu_threads=1, part_threads=1),
}
# per part: time limit (s) of a real and a dry run, and our estimate of a real run on one H200 (s)
LIMITS = {'env': (60, 60, 8), 'prep_world': (120, 60, 20), 'world_cpu': (360, 120, 150), 'prep_voc': (150, 60, 30),
          'parity': (150, 90, 25), 'bench_train_fp32': (120, 60, 25), 'bench_train_bf16': (120, 60, 25),
          'bench_cams': (90, 60, 15), 'cams': (180, 90, 30), 'world_gpu': (180, 90, 45), 'ddp': (150, 90, 30)}

# what the check imports: from the GPU machine's own packages, from .whl, or the project
MODULES = {'machine': ['torch', 'torchvision', 'numpy', 'cv2', 'PIL', 'sklearn', 'scipy', 'pandas', 'matplotlib',
                       'seaborn', 'yaml', 'tqdm', 'safetensors', 'regex', 'huggingface_hub', 'timm'],
           'wheel': ['open_clip', 'ftfy', 'wcwidth', 'pydensecrf.densecrf'],
           'project': ['excel_nb']}


# ------------------------------------------------------------------------------------------------- the parts
# Each part function runs in a child process (`gpu_check.py --part NAME --params P.json --result R.json`),
# takes the parameters the orchestrator wrote and returns a JSON-able dict.

def part_env(p:dict) -> dict:
    "Interpreter, torch, the device, and where every module the check imports comes from."
    import importlib
    mods = {}
    for origin, names in MODULES.items():
        for n in names:
            try:
                m = importlib.import_module(n)
                top = sys.modules[n.split('.')[0]]
                mods[n] = {'expected_from': origin, 'version': getattr(top, '__version__', None),
                           'file': getattr(m, '__file__', None)}
            except Exception as e:
                mods[n] = {'expected_from': origin, 'error': f'{type(e).__name__}: {e}'[:300]}
    import torch
    import torch.distributed
    site = p.get('installed_at')
    for n, d in mods.items():
        f = os.path.realpath(d.get('file') or '')
        d['from_install'] = bool(site and f.startswith(os.path.realpath(site) + os.sep))
    res = {'python': sys.version.split()[0], 'executable': sys.executable, 'platform': platform.platform(),
           'cpu_count': os.cpu_count(), 'torch': torch.__version__, 'torch_cuda': torch.version.cuda,
           'cuda_available': torch.cuda.is_available(), 'modules': mods, 'installed_at': site,
           'hf_hub_offline': os.environ.get('HF_HUB_OFFLINE')}
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        res.update(gpu_count=torch.cuda.device_count(), gpu=props.name, gpu_memory_mb=round(props.total_memory / 2**20),
                   capability=f'{props.major}.{props.minor}', cudnn=torch.backends.cudnn.version(),
                   nccl_available=torch.distributed.is_nccl_available(), bf16_supported=torch.cuda.is_bf16_supported())
    from excel_nb.core import git_commit
    res['git_commit'] = git_commit(REPO)
    try:
        q = 'name,driver_version,memory.total,clocks.max.sm,power.limit'
        r = subprocess.run(['nvidia-smi', f'--query-gpu={q}', '--format=csv,noheader'], capture_output=True,
                           text=True, timeout=20)
        res['nvidia_smi'] = r.stdout.strip() or r.stderr.strip()[:300]
    except (OSError, subprocess.TimeoutExpired) as e: res['nvidia_smi'] = f'not available ({type(e).__name__})'
    return res


def part_parity(p:dict) -> dict:
    "`excel-nb parity CASE --device D` on every case: fp32 with TF32 off, the CPU tolerances."
    import torch
    from excel_nb.parity import run_parity
    if not p['cases']: raise FileNotFoundError(f"no golden case found (--golden {' '.join(p['patterns'])})")
    out = {'tf32_override_env': os.environ.get('NVIDIA_TF32_OVERRIDE'), 'cases': {}}
    for path in p['cases']:
        t0 = time.time()
        try:
            res = run_parity(path, device=p['device'])
            bad = [k for k, (_, _, ok) in res.items() if not ok]
            out['cases'][Path(path).name] = {
                'ok': not bad, 'failed': bad, 'seconds': round(time.time() - t0, 2),
                'outputs': {k: {'difference': _num(d), 'tolerance': _num(t), 'ok': bool(ok)} for k, (d, t, ok) in res.items()}}
        except Exception as e:
            out['cases'][Path(path).name] = {'ok': False, 'error': f'{type(e).__name__}: {e}'[:500],
                                             'seconds': round(time.time() - t0, 2)}
    out['tf32_after'] = {'matmul': torch.backends.cuda.matmul.allow_tf32, 'cudnn': torch.backends.cudnn.allow_tf32}
    return out


def part_bench_train(p:dict) -> dict:
    "`excel-nb bench train` at the VOC recipe's shapes: seconds per iteration of both phases and peak memory."
    import torch
    from excel_nb.train import bench_train
    r = bench_train(model=p['model'], batch=p['batch'], crop=p['crop'], iters=p['iters'], device=p['device'],
                    amp=p['amp'], warmup=p['warmup'])
    if p['device'].startswith('cuda'): r['peak_reserved_mb'] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
    return r


def part_bench_cams(p:dict) -> dict:
    "`excel-nb bench cams`: seconds per image and per stage of the training-free path."
    from excel_nb.bench import bench_cams
    h, w = (int(v) for v in p['label'].split('x'))
    return bench_cams(p['model'], p['image'], (h, w), device=p['device'], repeats=p['repeats'])


def part_prep_voc(p:dict) -> dict:
    "A VOC tree of generated VOC-size images with exact masks (excel_nb.data.make_voc_tree)."
    from PIL import Image
    from excel_nb.data import make_voc_tree
    voc = make_voc_tree(p['root'], n_train=p['n'], n_val=0, n_test=0, n_sbd=0, size=tuple(p['size']),
                        with_sbd=False, with_aug=False, with_label_file=False, seed=0)
    sizes = [Image.open(f).size for f in sorted((voc/'JPEGImages').glob('*.jpg'))]
    return {'voc': str(voc), 'n_images': len(sizes), 'mean_pixels': round(sum(w * h for w, h in sizes) / len(sizes)),
            'min_size': [min(s[1] for s in sizes), min(s[0] for s in sizes)],
            'max_size': [max(s[1] for s in sizes), max(s[0] for s in sizes)]}


def part_ddp(p:dict) -> dict:
    "Launch 2 processes with torchrun (this file's --ddp-worker) and collect what rank 0 wrote."
    res_path = Path(p['out'])/'ddp_result.json'
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
           str(Path(__file__).resolve()), '--ddp-worker', p['params_file']]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=p['limit_s'])
    sys.stdout.write(r.stdout[-20000:]); sys.stderr.write(r.stderr[-20000:])
    if r.returncode: raise RuntimeError(f'torchrun exited with {r.returncode}: {r.stderr.strip()[-800:]}')
    return {**json.loads(res_path.read_text()), 'command': _cmdline(cmd)}


def ddp_worker(params_file:str) -> int:
    "One rank of the DDP smoke run: train on the world as `excel-nb train` does, then compare the ranks' weights."
    p = json.loads(Path(params_file).read_text())
    import torch
    import torch.distributed as dist
    from excel_nb.options import cli_train_args
    from excel_nb.train import init_distributed, load_checkpoint, train_from_args
    rank, world, dev = init_distributed(p['device'])
    ap = argparse.ArgumentParser(); cli_train_args(ap)
    args = ap.parse_args(p['train_args'])          # the options of `excel-nb train`, parsed by its own parser
    t0 = time.time()
    summary, head = train_from_args(args, dev)     # what `excel-nb train` runs; this rank's head comes back
    secs = time.time() - t0
    # every rank holds the weights it trained: compare each with rank 0's (NCCL reduces GPU tensors only)
    cdev = dev if dist.get_backend() == 'nccl' else torch.device('cpu')
    flat = torch.cat([v.detach().double().flatten().to(cdev) for v in head.state_dict().values()])
    ref = flat.clone(); dist.broadcast(ref, 0)
    diff = (flat - ref).abs().max().reshape(1)
    dist.all_reduce(diff, op=dist.ReduceOp.MAX)
    devices = [None] * world; dist.all_gather_object(devices, str(dev))
    if rank == 0:
        ck = load_checkpoint(Path(args.out)/'final.pt')
        ck_diff = max((ck['head'][k].double() - v.detach().double().cpu()).abs().max().item()
                      for k, v in head.state_dict().items())
        last = summary['last']
        res = {'world_size': world, 'backend': dist.get_backend(), 'devices': devices, 'iters': summary['iters'],
               'gpus_visible': torch.cuda.device_count() if torch.cuda.is_available() else 0,
               'max_abs_diff_between_ranks': diff.item(), 'identical': diff.item() == 0.0,
               'checkpoint_max_abs_diff': ck_diff, 'losses_finite': all(math.isfinite(last[k]) for k in ('seg', 'aff', 'total')),
               'last': last, 'seconds': round(secs, 2), 'n_tensors': len(head.state_dict()), 'n_values': flat.numel()}
        Path(p['out'], 'ddp_result.json').write_text(json.dumps(res, indent=1))
    dist.barrier()
    dist.destroy_process_group()
    return 0


PART_FUNCS = {'env': part_env, 'parity': part_parity, 'bench_train': part_bench_train, 'bench_cams': part_bench_cams,
              'prep_voc': part_prep_voc, 'ddp': part_ddp}


def _num(x):
    x = float(x)
    return x if math.isfinite(x) else str(x)


def _cmdline(cmd:list[str]) -> str:
    "A command as a person would type it (`excel-nb ...` for our interpreter running the CLI)."
    if len(cmd) > 2 and cmd[1] == '-c' and cmd[2] == CLI: cmd = ['excel-nb'] + cmd[3:]
    elif cmd and cmd[0] == sys.executable: cmd = ['python'] + cmd[1:]
    return shlex.join(str(c) for c in cmd)


# --------------------------------------------------------------------------------------------- orchestration
class Job:
    "One part in a child process, with a time limit; its output goes to a log file."
    def __init__(self, name:str, cmd:list[str], limit_s:float, logdir:Path, env:dict|None=None,
                 result:Path|None=None, after=None):
        self.name, self.cmd, self.limit_s, self.result, self.after = name, cmd, limit_s, result, after
        self.log = logdir/f'{name}.log'
        self.t0 = time.time()
        with open(self.log, 'w') as f:
            self.proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                         start_new_session=True)
        self.status, self.rc, self.t1 = None, None, None

    def poll(self) -> bool:
        "True once finished (or killed at its limit)."
        if self.status is not None: return True
        rc = self.proc.poll()
        if rc is None and time.time() - self.t0 > self.limit_s:
            self._kill(); rc = self.proc.wait(); self.status = 'timeout'
        if rc is None: return False
        self.rc, self.t1 = rc, time.time()
        if self.status is None: self.status = 'ok' if rc == 0 else 'failed'
        return True

    def _kill(self):
        import signal
        try: os.killpg(self.proc.pid, signal.SIGKILL)   # the part and anything it started (workers, torchrun ranks)
        except ProcessLookupError: pass

    def tail(self, n:int=2500) -> str:
        try: return self.log.read_text(errors='replace')[-n:]
        except OSError: return ''

    def record(self) -> dict:
        d = {'status': self.status, 'seconds': round((self.t1 or time.time()) - self.t0, 2), 'limit_s': self.limit_s,
             'exit_code': self.rc, 'command': _cmdline(self.cmd)}
        if self.result is not None and self.result.exists():
            try: d['result'] = json.loads(self.result.read_text())
            except json.JSONDecodeError as e: d['result_error'] = str(e)
        if self.after:
            try: d.update(self.after(self, d) or {})
            except Exception as e:   # the part ran but left no usable output
                d['status'], d['error'] = 'failed', f'reading its output: {type(e).__name__}: {e}'
        if d['status'] != 'ok': d['error'] = (d.get('error', '') + '\n' + self.tail()).strip()
        return d


class Runner:
    "Starts parts, keeps background parts going while foreground parts run, and enforces the overall budget."
    def __init__(self, args, work:Path):
        self.args, self.work, self.t0 = args, work, time.time()
        self.logdir = work/'logs'; self.logdir.mkdir(parents=True, exist_ok=True)
        self.jobs: dict[str, Job] = {}
        self.records: dict[str, dict] = {}
        self.pending: list[tuple[str, list[str], callable]] = []   # (name, needs, start function)
        self.selected = selected_parts(args.only, args.skip)

    def left(self) -> float: return self.args.budget - (time.time() - self.t0)

    def env(self, threads:int|None=None, extra:dict|None=None) -> dict:
        e = dict(os.environ)
        e.setdefault('HF_HUB_OFFLINE', '1'); e['PYTHONUNBUFFERED'] = '1'
        t = threads or SIZES[self.mode]['part_threads']
        e['OMP_NUM_THREADS'] = e['MKL_NUM_THREADS'] = str(t)
        e.update(extra or {})
        return e

    @property
    def mode(self) -> str: return 'dry' if self.args.dry_run else 'real'

    def limit(self, name:str) -> float:
        real, dry, _ = LIMITS[name]
        return float(dry if self.args.dry_run else real)

    def start(self, name:str, cmd:list[str], threads:int|None=None, env:dict|None=None, result:Path|None=None,
              after=None) -> Job|None:
        if name not in self.selected:
            self.records[name] = {'status': 'skipped', 'reason': 'not selected (--only/--skip)'}
            return None
        lim = min(self.limit(name), self.left() - 5)
        if lim < 10:
            self.records[name] = {'status': 'skipped', 'reason': f'{self.left():.0f} s of the budget left'}
            return None
        print(f'[{time.time() - self.t0:6.1f} s] start {name}: {_cmdline(cmd)}', flush=True)
        job = Job(name, cmd, lim, self.logdir, self.env(threads, env), result, after)
        self.jobs[name] = job
        return job

    def start_part(self, name:str, func:str, params:dict, threads:int|None=None, env:dict|None=None, after=None):
        pf, rf = self.work/f'{name}.params.json', self.work/f'{name}.result.json'
        pf.write_text(json.dumps({**params, 'params_file': str(pf)}))
        cmd = [sys.executable, str(Path(__file__).resolve()), '--part', func, '--params', str(pf), '--result', str(rf)]
        return self.start(name, cmd, threads, env, rf, after)

    def later(self, name:str, needs:list[str], fn):
        "Start `fn()` (a background part) once the parts in `needs` finished well."
        self.pending.append((name, needs, fn))

    def tick(self):
        for name, job in list(self.jobs.items()):
            if name not in self.records and job.poll():
                self.records[name] = job.record()
                print(f'[{time.time() - self.t0:6.1f} s] {name}: {self.records[name]["status"]} '
                      f'({self.records[name]["seconds"]} s)', flush=True)
        for item in list(self.pending):
            name, needs, fn = item
            if name in self.records: self.pending.remove(item); continue    # given up on (budget)
            if all(n in self.records for n in needs):
                self.pending.remove(item)
                bad = [n for n in needs if self.records[n]['status'] != 'ok']
                if bad: self.records[name] = {'status': 'skipped', 'reason': f'needs {", ".join(bad)}'}
                else: fn()

    def wait(self, names:list[str]) -> bool:
        "Wait for parts (keeping the others going); True when all of them finished well."
        while True:
            self.tick()
            if all(n in self.records for n in names): break
            if self.left() < 0:
                for n in names:
                    if n in self.jobs and n not in self.records:
                        self.jobs[n].limit_s = 0
                self.tick()
                for n in names: self.records.setdefault(n, {'status': 'skipped', 'reason': 'budget spent'})
                break
            time.sleep(0.2)
        return all(self.records[n]['status'] == 'ok' for n in names)

    def run(self, name:str, starter, needs:list[str]=()) -> bool:
        "A foreground part: wait for what it needs, run it to the end."
        if needs and not self.wait(list(needs)):
            bad = [n for n in needs if self.records[n]['status'] != 'ok']
            self.records[name] = {'status': 'skipped', 'reason': f'needs {", ".join(bad)}'}
            return False
        job = starter()
        if job is None: return False
        return self.wait([name])


NEEDS = {'world_cpu': ['prep_world'], 'world_gpu': ['prep_world'], 'ddp': ['prep_world'], 'cams': ['prep_voc']}

def selected_parts(only:list[str]|None, skip:list[str]|None) -> set[str]:
    "The parts to run: --only (with what they need, and env) or all, minus --skip."
    bad = sorted((set(only or []) | set(skip or [])) - set(LIMITS))
    if bad: raise SystemExit(f"gpu_check: unknown part(s) {', '.join(bad)}; parts: {', '.join(LIMITS)}")
    sel = set(LIMITS) if not only else {'env', *only, *(n for o in only for n in NEEDS.get(o, []))}
    return sel - set(skip or [])


def _cli(*args:str) -> list[str]: return [sys.executable, '-c', CLI, *[str(a) for a in args]]


def _world_train_args(root, out, device, amp, iters, size:dict, extra:list[str]=()) -> list[str]:
    "`excel-nb train` options of the world comparison: the world preset scaled to `iters` (`--iters`: switch points too)."
    sets = ['eval_every=0', f'save_every={iters}', *size['world_sets'], *extra]
    a = ['--dataset', 'world', '--root', str(root), '--out', str(out), '--device', device, '--amp', amp, '--quiet',
         '--iters', str(iters)]
    for s in sets: a += ['--set', s]
    return a + size['world_image']


def _read_train_run(out:Path) -> dict:
    "Losses (all finite?) and validation of a finished `excel-nb train` run folder."
    import csv
    m = json.loads((out/'metrics.json').read_text())
    rows = list(csv.DictReader(open(out/'log.csv')))
    vals = [float(r[k]) for r in rows for k in ('seg', 'aff', 'total')]
    return {'iters': m['iters'], 'seconds': m['seconds'], 'it_per_s': m['it_per_s'], 'device': m['device'],
            'last': m['last'], 'val_mIoU': (m.get('val') or {}).get('mIoU'),
            'losses_finite': bool(rows) and all(math.isfinite(v) for v in vals), 'logged_iters': len(rows),
            'seconds_per_stage': m.get('seconds_per_stage')}


def orchestrate(args) -> dict:
    size = SIZES['dry' if args.dry_run else 'real']
    work = Path(args.work or tempfile.mkdtemp(prefix='excel_nb_gpu_check.'))
    work.mkdir(parents=True, exist_ok=True)
    R = Runner(args, work)
    dev = args.device
    cache = work/'cache'   # TSE banks: shared by the runs, so each is built once
    started = datetime.now(timezone.utc).isoformat(timespec='seconds')
    print(f'gpu_check: device {dev}, {"dry run" if args.dry_run else "full sizes"}, budget {args.budget:.0f} s, '
          f'work folder {work}', flush=True)

    # background chain: world data, then the CPU fp32 reference training on it; VOC-size images for `cams`
    world = work/'world'
    R.start('prep_world', _cli('world', 'make', '--root', world, '--n-train', size['world_train'],
                               '--n-val', size['world_val']))
    cpu_threads = args.cpu_threads or size['cpu_threads']
    R.later('world_cpu', ['prep_world'], lambda: R.start(
        'world_cpu', _cli('train', *_world_train_args(world, work/'world_cpu', 'cpu', 'none', size['world_iters'], size,
                                                      [f'num_workers={min(2, cpu_threads)}']),
                          '--cache-dir', cache), threads=cpu_threads,
        after=lambda job, d: {'result': _read_train_run(work/'world_cpu')} if job.status == 'ok' else {}))
    R.start_part('prep_voc', 'prep_voc', {'root': str(work/'voc'), 'n': size['voc_n'], 'size': size['voc_size']})

    # foreground: the GPU parts, one at a time
    R.run('env', lambda: R.start_part('env', 'env', {'installed_at': args.installed_at}))
    env_res = R.records.get('env', {}).get('result', {})
    cases = _golden_cases(args.golden)
    R.run('parity', lambda: R.start_part('parity', 'parity', {'cases': cases, 'patterns': args.golden, 'device': dev},
                                          env={'NVIDIA_TF32_OVERRIDE': '0'}))
    for amp, name in (('none', 'bench_train_fp32'), ('bf16', 'bench_train_bf16')):
        R.run(name, lambda amp=amp, name=name: R.start_part(name, 'bench_train', {
            'model': size['bench_model'], 'batch': size['bench_batch'], 'crop': size['bench_crop'],
            'iters': size['bench_iters'], 'warmup': size['bench_warmup'], 'amp': amp, 'device': dev}))
        R.records[name]['command_equivalent'] = (
            f"excel-nb bench train --device {dev} --model {size['bench_model']} --batch {size['bench_batch']} "
            f"--crop {size['bench_crop']} --iters {size['bench_iters']} --warmup {size['bench_warmup']} --amp {amp}")
    R.run('bench_cams', lambda: R.start_part('bench_cams', 'bench_cams', {
        'model': size['bench_model'], 'image': size['cams_image'], 'label': size['cams_label'],
        'repeats': size['cams_repeats'], 'device': dev}))
    R.records['bench_cams']['command_equivalent'] = (
        f"excel-nb bench cams --device {dev} --model {size['bench_model']} --image-size {size['cams_image']} "
        f"--label-size {size['cams_label']} --repeats {size['cams_repeats']}")

    # `excel-nb cams` end to end over the generated images
    cams_out = {'dir': work/'cams'}
    def after_cams(job, d):
        if job.status != 'ok': return {}
        m = json.loads((cams_out['dir']/'metrics.json').read_text())
        n, loop, wall = m['n_images'], m['seconds'], d['seconds']
        return {'result': {'n_images': n, 'loop_seconds': loop, 'wall_seconds': wall,
                           'images_per_s': round(n / loop, 2) if loop else None,
                           'images_per_s_with_startup': round(n / wall, 2), 'startup_seconds': round(wall - loop, 2),
                           'seconds_per_stage': m.get('seconds_per_stage'), 'mIoU_random_weights': m.get('mIoU'),
                           'device': m.get('device'), 'workers': size['cams_workers']}}
    def start_cams():
        a = ['cams', '--dataset', 'voc', '--root', work/'voc'/'VOC2012', '--split', 'train', '--out', cams_out['dir'],
             '--device', dev, '--batch-size', size['cams_batch'], '--quiet', '--cache-dir', cache, *size['voc_model'],
             '--workers', size['cams_workers'], '--pretrained', 'random']
        return R.start('cams', _cli(*a), after=after_cams)
    R.run('cams', start_cams, needs=['prep_voc'])

    # world: the same 300-iteration training on the GPU in bf16 (the CPU fp32 run goes on in the background)
    R.run('world_gpu', lambda: R.start('world_gpu', _cli('train', *_world_train_args(
        world, work/'world_gpu', dev, 'bf16', size['world_iters'], size, ['num_workers=4' if not args.dry_run else 'num_workers=0']),
        '--cache-dir', cache), after=lambda job, d: {'result': _read_train_run(work/'world_gpu')} if job.status == 'ok' else {}),
        needs=['prep_world'])

    # DDP smoke run: 2 processes (NCCL with 2 GPUs, gloo when they share one GPU or on the CPU)
    ddp_out = work/'ddp'
    R.run('ddp', lambda: R.start_part('ddp', 'ddp', {
        'device': dev, 'out': str(ddp_out), 'limit_s': max(10, min(R.limit('ddp'), R.left() - 5) - 5),
        'train_args': _world_train_args(world, ddp_out, dev, 'none', size['ddp_iters'], size,
                                        ['num_workers=0', 'val_split=null']) + ['--cache-dir', str(cache)]},
        threads=max(1, size['part_threads'] // 2)), needs=['prep_world'])

    R.wait(['prep_world', 'prep_voc', 'world_cpu'])
    for name, job in R.jobs.items():          # whatever still runs has no budget left
        if name not in R.records: job.limit_s = 0
    R.tick()
    for name in LIMITS: R.records.setdefault(name, {'status': 'skipped', 'reason': 'not started'})

    report = {'format': FORMAT, 'dry_run': bool(args.dry_run), 'device': dev, 'started': started,
              'seconds': round(time.time() - R.t0, 1), 'budget_s': args.budget,
              'install_seconds': args.install_seconds, 'installed_at': args.installed_at, 'work': str(work),
              'targets': {'s_per_it_bf16': TARGET_S_PER_IT, 'peak_mb': TARGET_PEAK_MB, 'images_per_s': TARGET_IMG_PER_S,
                          'miou_gap': TARGET_MIOU_GAP},
              'estimates_h200_s': {k: v[2] for k, v in LIMITS.items()},
              'selected': [k for k in LIMITS if k in R.selected], 'parts': {k: R.records[k] for k in LIMITS}}
    report['checks'] = evaluate(report)
    failed_parts = [k for k in report['selected'] if report['parts'][k]['status'] != 'ok']
    unmet = [c['name'] for c in report['checks'] if c['met'] is False]
    report['summary'] = {'parts_ok': len(report['selected']) - len(failed_parts), 'parts': len(report['selected']),
                         'parts_not_ok': failed_parts,
                         'checks_met': sum(c['met'] is True for c in report['checks']),
                         'checks_not_applicable': sum(c['met'] is None for c in report['checks']),
                         'checks_unmet': unmet}
    logs = '\n'.join(f'===== {n} ({j.status})\n{j.log.read_text(errors="replace")}' for n, j in R.jobs.items()
                     if j.log.exists())
    return report, logs


def _golden_cases(patterns:list[str]) -> list[str]:
    out = []
    for pat in patterns:
        hits = sorted(glob.glob(pat if os.path.isabs(pat) else str(REPO/pat)))
        out += hits if hits else ([pat] if not any(c in pat for c in '*?[') else [])
    return out


def evaluate(report:dict) -> list[dict]:
    "The checks of issue 14 against their targets; `met` is None where a check does not apply (dry run, no data)."
    P, real = report['parts'], not report['dry_run'] and report['device'].startswith('cuda')
    selected = set(report.get('selected', LIMITS))
    checks = []
    def add(name, value, target, met, applies=True):   # a check that applies but could not be measured is unmet
        checks.append({'name': name, 'value': value, 'target': target,
                       'met': None if not applies else bool(met) if value is not None else False})
    def parts(*names): return all(n in selected for n in names)   # checks of parts left out (--only/--skip): n/a
    e = P['env'].get('result') or {}
    mods = e.get('modules', {})
    missing = sorted(n for n, m in mods.items() if 'error' in m)
    add('imports: every module the check uses is importable', f'{len(mods) - len(missing)}/{len(mods)}' +
        (f" (missing {', '.join(missing)})" if missing else ''), 'all', mods and not missing, parts('env'))
    if report.get('installed_at'):
        torch_ok = bool(mods.get('torch', {}).get('file')) and not mods['torch']['from_install']
        add("imports: torch is the machine's own, not replaced by the install", mods.get('torch', {}).get('file'),
            'outside the install folder', torch_ok, parts('env'))
        add('imports: excel_nb is the installed copy of this tree', mods.get('excel_nb', {}).get('file'),
            'inside the install folder', mods.get('excel_nb', {}).get('from_install'), parts('env'))
    r = P['parity'].get('result') or {}
    cases = r.get('cases', {})
    add('parity: every golden case within the CPU tolerances', f"{sum(c['ok'] for c in cases.values())}/{len(cases)} cases ok"
        if cases else None, 'all', cases and all(c['ok'] for c in cases.values()), parts('parity'))
    for amp in ('fp32', 'bf16'):
        b = P[f'bench_train_{amp}'].get('result') or {}
        for ph in ('static', 'dynamic'):
            v = b.get(f'{ph}_s_per_it')
            if amp == 'bf16': add(f'train s/it, bf16, {ph} phase', v, f'<= {TARGET_S_PER_IT}',
                                  v is not None and v <= TARGET_S_PER_IT, real and parts(f'bench_train_{amp}'))
            else: add(f'train s/it, fp32, {ph} phase (no target)', v, None, None, False)
        pk = b.get('peak_memory_mb')
        add(f'train peak GPU memory (allocated, MB), {amp}', pk, f'<= {TARGET_PEAK_MB:.0f}',
            pk is not None and pk <= TARGET_PEAK_MB, real and parts(f'bench_train_{amp}'))
    b = P['bench_train_bf16'].get('result') or {}
    if b.get('static_s_per_it') and b.get('dynamic_s_per_it'):
        mins = (VOC_SWITCH[0] * b['static_s_per_it'] + VOC_SWITCH[1] * b['dynamic_s_per_it']) / 60
        add('VOC recipe, 30k iterations in bf16 (minutes, projected)', round(mins, 1), '<= 30', mins <= 30,
            real and parts('bench_train_bf16'))
    c = P['cams'].get('result') or {}
    add('cams images/s (loading to PNG written, after start-up)', c.get('images_per_s'), f'>= {TARGET_IMG_PER_S:.0f}',
        c.get('images_per_s') is not None and c['images_per_s'] >= TARGET_IMG_PER_S, real and parts('cams'))
    g, cpu = P['world_gpu'].get('result') or {}, P['world_cpu'].get('result') or {}
    add('world training: finite losses, GPU bf16', g.get('losses_finite'), True, g.get('losses_finite'), parts('world_gpu'))
    add('world training: finite losses, CPU fp32', cpu.get('losses_finite'), True, cpu.get('losses_finite'),
        parts('world_cpu'))
    if g.get('val_mIoU') is not None and cpu.get('val_mIoU') is not None:
        gap = round(abs(g['val_mIoU'] - cpu['val_mIoU']), 2)
        add('world training: |val mIoU GPU bf16 - CPU fp32| (points)', gap, f'<= {TARGET_MIOU_GAP}', gap <= TARGET_MIOU_GAP)
    else: add('world training: |val mIoU GPU bf16 - CPU fp32| (points)', None, f'<= {TARGET_MIOU_GAP}', None,
              parts('world_gpu', 'world_cpu'))
    d = P['ddp'].get('result') or {}
    add('DDP: identical weights on both ranks (max abs difference)', d.get('max_abs_diff_between_ranks'), 0.0,
        d.get('identical'), parts('ddp'))
    add('DDP: checkpoint holds rank 0 weights (max abs difference)', d.get('checkpoint_max_abs_diff'), 0.0,
        d.get('checkpoint_max_abs_diff') == 0.0, parts('ddp'))
    return checks


def markdown(report:dict) -> str:
    "The short summary: checks against targets, then the parts."
    P = report['parts']
    env = P['env'].get('result') or {}
    dev = env.get('gpu') or env.get('platform') or report['device']
    lines = [f"# excel_nb GPU check{' (dry run on ' + report['device'] + ', small sizes: no figure is a GPU figure)' if report['dry_run'] else ''}",
             '', f"{report['started']} · {dev} · torch {env.get('torch')} (CUDA {env.get('torch_cuda')}) · "
             f"commit {env.get('git_commit')} · {report['seconds']} s (budget {report['budget_s']:.0f} s"
             + (f", install {report['install_seconds']} s" if report.get('install_seconds') is not None else '') + ')',
             '', '| check | value | target | met |', '|---|---|---|---|']
    mark = {True: 'yes', False: '**NO**', None: 'n/a'}
    for c in report['checks']:
        lines.append(f"| {c['name']} | {c['value'] if c['value'] is not None else '-'} | {c['target'] if c['target'] is not None else '-'} | {mark[c['met']]} |")
    lines += ['', '| part | status | seconds | limit |', '|---|---|---|---|']
    for k, v in P.items():
        lines.append(f"| {k} | {v['status']}{' (' + v['reason'] + ')' if v.get('reason') else ''} | {v.get('seconds', '-')} | {v.get('limit_s', '-')} |")
    bt = {a: P[f'bench_train_{a}'].get('result') or {} for a in ('fp32', 'bf16')}
    if any(bt.values()):
        lines += ['', '| bench train | static s/it | dynamic s/it | peak MB (allocated) | peak MB (reserved) |', '|---|---|---|---|---|']
        for a, b in bt.items():
            lines.append(f"| {a} | {b.get('static_s_per_it', '-')} | {b.get('dynamic_s_per_it', '-')} | "
                         f"{b.get('peak_memory_mb', b.get('peak_rss_mb', '-'))} | {b.get('peak_reserved_mb', '-')} |")
    bc = P['bench_cams'].get('result') or {}
    if bc: lines += ['', 'bench cams (s/image): ' + ', '.join(f'{k} {bc[k]}' for k in ('clip', 'cam', 'refine', 'par', 'total') if k in bc)
                     + f", peak {bc.get('peak_mb')} MB"]
    c = P['cams'].get('result') or {}
    if c: lines += ['', f"cams: {c['n_images']} images in {c['loop_seconds']} s ({c['images_per_s']} images/s; "
                        f"{c['images_per_s_with_startup']} with {c['startup_seconds']} s of start-up); stages (s): {c.get('seconds_per_stage')}"]
    g, cpu = P['world_gpu'].get('result') or {}, P['world_cpu'].get('result') or {}
    if g or cpu: lines += ['', f"world training: GPU bf16 val mIoU {g.get('val_mIoU')} ({g.get('seconds')} s, {g.get('it_per_s')} it/s) · "
                               f"CPU fp32 val mIoU {cpu.get('val_mIoU')} ({cpu.get('seconds')} s, {cpu.get('it_per_s')} it/s)"]
    d = P['ddp'].get('result') or {}
    if d: lines += ['', f"DDP: {d.get('world_size')} processes, backend {d.get('backend')}, devices {d.get('devices')}, "
                        f"{d.get('iters')} iterations, max |difference| between ranks {d.get('max_abs_diff_between_ranks')}"]
    pr = (P['parity'].get('result') or {}).get('cases', {})
    for name, cs in pr.items():
        if cs.get('error'): lines.append(f"\nparity {name}: error {cs['error']}")
        else:
            worst = sorted(((v['difference'], v['tolerance'], k) for k, v in cs['outputs'].items()
                            if isinstance(v['difference'], float) and v['tolerance']), key=lambda t: -t[0] / t[1])[:3]
            lines.append(f"\nparity {name}: {'OK' if cs['ok'] else 'FAILED ' + ', '.join(cs['failed'])}; closest to "
                         'tolerance: ' + ', '.join(f'{k} {d:.1e} (tol {t:.0e})' for d, t, k in worst))
    bad = [f"{k}: {P[k]['status']}" for k in report['selected'] if P[k]['status'] != 'ok']
    if bad: lines += ['', 'not ok: ' + '; '.join(bad) + ' (errors in gpu_check.json and gpu_check.log)']
    return '\n'.join(lines) + '\n'


def main(argv:list[str]|None=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--out', default=os.environ.get('OUT'), help='folder for gpu_check.json/.md/.log (default $OUT)')
    ap.add_argument('--device', default='cuda', help="device of the GPU parts (default cuda; 'cpu' with --dry-run)")
    ap.add_argument('--dry-run', action='store_true', help='small sizes everywhere (for a CPU run of the whole check)')
    ap.add_argument('--golden', nargs='+', default=['tests/golden/*.pack'], help='golden cases (paths or globs, '
                    'relative to the repository; default tests/golden/*.pack, the vendored public cases)')
    ap.add_argument('--budget', type=float, default=None, help='overall seconds (default 420; dry run 300)')
    ap.add_argument('--cpu-threads', type=int, default=None, help='threads of the CPU reference training (default 8)')
    ap.add_argument('--work', default=None, help='scratch folder for data and runs (default: a new temporary folder)')
    ap.add_argument('--only', nargs='+', default=None, metavar='PART', help=f"run these parts only (and what they "
                    f"need): {', '.join(LIMITS)}")
    ap.add_argument('--skip', nargs='+', default=None, metavar='PART', help='leave these parts out')
    ap.add_argument('--installed-at', default=None, help=argparse.SUPPRESS)      # set by gpu_check.sh
    ap.add_argument('--install-seconds', type=float, default=None, help=argparse.SUPPRESS)
    ap.add_argument('--part', default=None, help=argparse.SUPPRESS)               # internal: run one part
    ap.add_argument('--params', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--result', default=None, help=argparse.SUPPRESS)
    ap.add_argument('--ddp-worker', default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.ddp_worker: return ddp_worker(args.ddp_worker)
    if args.part:
        res = PART_FUNCS[args.part](json.loads(Path(args.params).read_text()))
        Path(args.result).write_text(json.dumps(res, indent=1, default=str))
        return 0
    if not args.out: ap.error('--out is needed (or $OUT)')
    if args.budget is None: args.budget = 300.0 if args.dry_run else 420.0
    if args.device.startswith('cuda') and not args.dry_run:
        import importlib.util
        if importlib.util.find_spec('torch') is None: ap.error('torch is not importable')
    out = Path(args.out); out.mkdir(parents=True, exist_ok=True)
    report, logs = orchestrate(args)
    (out/'gpu_check.json').write_text(json.dumps(report, indent=1, default=str))
    md = markdown(report)
    (out/'gpu_check.md').write_text(md)
    (out/'gpu_check.log').write_text(logs[-8_000_000:])
    print(md)
    return 0 if not report['summary']['parts_not_ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
