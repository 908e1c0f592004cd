"""Bad inputs through the command line (issue 10): each case writes a small broken input (generated, nothing
downloaded), runs `excel-nb ...` in-process and checks what a user sees:

* the exit code: 2 for a refused input, 1 for `datacheck` findings, 0 for inputs that must be accepted (a byte-order
  mark, a numpy-1.x label file);
* the message: every fragment appears (the file that is wrong and the problem), and a refusal is exactly one line
  `excel-nb CMD: error: ...` on stderr;
* no traceback anywhere in the output, and no exception escaping `main`;
* nothing partial: the case's output folder holds no file afterwards (it may not exist at all); a case refused
  because its folder holds another run's outputs checks instead that those are left as they were.

To add a case, append a `Case` to `CASES`: `build(tmp)` writes the inputs under the case's own folder `tmp` and
returns the argv (without `excel-nb`); fragments may contain `{tmp}`. `xfail` (strict) marks a case whose intended
behaviour needs a change not merged yet; when the change lands the case passes, strict xfail turns that into a
failure, and the mark is removed.
"""
from __future__ import annotations

import io
import json
import os
import shlex
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pytest
from PIL import Image

from excel_nb.cli import main
from excel_nb.data import make_coco_annotations, make_folder_dataset, make_voc_tree, save_label_png
from excel_nb.golden import find_golden

# Random CLIP weights for the tiny test model must be asked for by name (issue 10).
PRETRAINED_RANDOM = ['--pretrained', 'random']

BOM = b'\xef\xbb\xbf'


@dataclass
class Case:
    id: str
    build: Callable[[Path], list[str]]  # writes the inputs under tmp, returns argv
    fragments: Sequence[str]            # must appear in the message ('{tmp}' is the case folder)
    rc: int = 2                         # expected exit code
    out: str | None = None              # output folder (relative to tmp) that must hold no file afterwards
    stream: str = 'stderr'              # where the fragments are looked for: 'stderr' or 'stdout'
    check: Callable[[Path], None] | None = None   # further assertions on tmp after the run
    xfail: str | None = None            # reason, naming the change the case waits for (strict xfail)


def run_cli(argv: list[str]) -> tuple[int | None, str, str, BaseException | None]:
    "Exit code, stdout, stderr and any exception escaping `excel_nb.cli.main`."
    out, err, exc = io.StringIO(), io.StringIO(), None
    with redirect_stdout(out), redirect_stderr(err):
        try: rc = main(argv)
        except SystemExit as e: rc = e.code
        except BaseException as e: rc, exc = None, e
    return rc, out.getvalue(), err.getvalue(), exc


# ---------------------------------------------------------------- input builders

def voc(tmp: Path, **kw) -> Path:
    return make_voc_tree(tmp/'data', **{'n_train': 3, 'n_val': 2, 'n_test': 0, 'n_sbd': 0, **kw})

def folder(tmp: Path, **kw) -> Path:
    return make_folder_dataset(tmp/'data', **{'n_images': 4, **kw})

def huge_image(path: Path) -> None:
    "A 10000 x 10000 image in a small file (1-bit PNG; Pillow reads it by content whatever its name)."
    Image.new('1', (10000, 10000)).save(path, format='PNG')

class PickleExploit:
    "Unpickling this runs a shell command that creates `marker`."
    def __init__(self, marker: Path): self.marker = marker
    def __reduce__(self): return (os.system, (f'touch {shlex.quote(str(self.marker))}',))

def exploit_npy(tmp: Path) -> Path:
    p = tmp/'evil.npy'
    np.save(p, {'2008_000001': np.eye(20)[0], '2008_000002': PickleExploit(tmp/'pwned')}, allow_pickle=True)
    return p

def no_marker(tmp: Path) -> None:
    assert not (tmp/'pwned').exists(), 'the crafted pickle ran'

def datacheck_folder(edit: Callable[[Path], object], **kw) -> Callable[[Path], list[str]]:
    def build(tmp):
        root = folder(tmp, **kw); edit(root)
        return ['datacheck', '--dataset', 'folder', '--root', str(root), '--no-progress']
    return build

def write(rel: str, text: str | bytes) -> Callable[[Path], object]:
    return lambda root: (root/rel).write_bytes(text if isinstance(text, bytes) else text.encode())

def datacheck_voc(edit: Callable[[Path, Path], list[str]]) -> Callable[[Path], list[str]]:
    "edit(tmp, voc_root) changes the tree and returns extra argv."
    def build(tmp):
        root = voc(tmp)
        return ['datacheck', '--dataset', 'voc', '--root', str(root), '--no-progress'] + edit(tmp, root)
    return build

TINY = ['--model', 'excel-tiny-vit', '--image-size', '64', '--device', 'cpu', '--tse-mode', 'template', '--quiet']

def cams(kind: str, edit: Callable[[Path, Path], list[str]]) -> Callable[[Path], list[str]]:
    "`excel-nb cams` with the tiny random CLIP on a small dataset that edit(tmp, root) breaks."
    def build(tmp):
        root = voc(tmp) if kind == 'voc' else folder(tmp)
        return (['cams', '--dataset', kind, '--root', str(root), '--out', str(tmp/'out'), '--cache-dir', str(tmp/'cache')]
                + TINY + PRETRAINED_RANDOM + edit(tmp, root))
    return build

def coco2voc(edit: Callable[[dict], object], raw: Callable[[dict], bytes] | None = None,
             extra: Callable[[Path], list[str]] = lambda tmp: []) -> Callable[[Path], list[str]]:
    "`excel-nb coco2voc` on a generated instances file changed by edit(dict) (or written by raw(dict))."
    def build(tmp):
        ann = make_coco_annotations(tmp/'src', 'val', n_images=4)
        d = json.loads(ann.read_text()); edit(d)
        ann.write_bytes(raw(d) if raw else json.dumps(d).encode())
        return (['coco2voc', '--ann', str(ann), '--images', str(tmp/'src'/'val2014'), '--out', str(tmp/'COCO'),
                 '--no-progress'] + extra(tmp))
    return build

def truncated_training_image(tmp: Path, root: Path) -> None:
    "Replace the first training image by a JPEG cut after its header (readable size, undecodable data)."
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (160, 160, 3), dtype=np.uint8)
    mask = np.zeros((160, 160), np.uint8); mask[40:120, 40:120] = 12
    p = root/'JPEGImages'/'2008_000001.jpg'
    Image.fromarray(img).save(p, format='JPEG', quality=95)
    p.write_bytes(p.read_bytes()[:int(p.stat().st_size * 0.7)])
    for d in ('SegmentationClassAug', 'SegmentationClass'): save_label_png(mask, root/d/'2008_000001.png')

def train_voc(edit: Callable[[Path, Path], object]) -> Callable[[Path], list[str]]:
    def build(tmp):
        root = voc(tmp); edit(tmp, root)
        return (['train', '--dataset', 'voc', '--root', str(root), '--out', str(tmp/'out'), '--cache-dir', str(tmp/'cache')]
                + TINY + PRETRAINED_RANDOM +
                ['--crop-size', '64', '--batch-size', '2', '--set', 'embed_dim=32', '--set', 'decoder_heads=4',
                 '--set', 'decoder_layers=1', '--set', 'dynamic_from=1', '--eval-every', '0', '--workers', '1',
                 '--warmup-iters', '1', '--iters', '2'])
    return build


def first_run(argv: list[str]) -> None:
    "Run a command that must succeed (the earlier run of a run-folder case)."
    rc, out, err, exc = run_cli(argv)
    assert rc == 0 and exc is None, (rc, err, exc)

def cams_twice(first: list[str], second: list[str]) -> Callable[[Path], list[str]]:
    "A cams run with `first` into out/, then the case's run with `second` into the same folder."
    def build(tmp):
        base = cams('voc', lambda tmp, r: ['--split', 'val', '--workers', '0'])(tmp)
        first_run(base + first)
        return base + second
    return build

def unchanged_first_run(caa: float) -> Callable[[Path], None]:
    "The refused second run left the first run's masks and record as they were."
    def check(tmp):
        cfg = json.loads((tmp/'out'/'config.json').read_text())
        assert cfg['excel']['pseudo']['caa_thre'] == caa, cfg['excel']['pseudo']
        assert len(list((tmp/'out'/'pseudo').glob('*.png'))) == 2
        assert json.loads((tmp/'out'/'run.json').read_text())['status'] == 'complete'
    return check

def checkpoint(tmp: Path) -> Path:
    "A training checkpoint of a tiny random head trained (0 steps) on the VOC classes."
    from excel_nb.cams import ExCEL, ExCELCfg
    from excel_nb.clip import load_clip
    from excel_nb.core import VOC_CLASSES
    from excel_nb.data import VOCDataset
    from excel_nb.train import TrainCfg, build_head, run_config, save_checkpoint
    from excel_nb.tse import TSECfg, background_words
    ex = ExCEL.build(VOC_CLASSES, background_words('voc'), None, ExCELCfg(model='excel-tiny-vit', image_size=64,
                     tse=TSECfg(mode='template')), clip=load_clip('excel-tiny-vit', 'random'))
    cfg = TrainCfg(embed_dim=32, decoder_layers=1, decoder_heads=4)
    head = build_head(ex, cfg)
    ds = VOCDataset(voc(tmp), 'train')
    return save_checkpoint(tmp/'final.pt', head, None, 0, run_config(ex, head, cfg, ds), text=ex.text)

def infer_with(edit: Callable[[Path, Path], list[str]]) -> Callable[[Path], list[str]]:
    "`excel-nb infer` of a tiny VOC checkpoint; edit(tmp, checkpoint) gives the data and extra options."
    def build(tmp):
        ck = checkpoint(tmp)
        return ['infer', '--checkpoint', str(ck), '--out', str(tmp/'out'), '--quiet', '--device', 'cpu',
                '--workers', '0'] + edit(tmp, ck)
    return build

def below_a_file(cmd: Callable[[Path], list[str]]) -> Callable[[Path], list[str]]:
    "The command with --out inside a regular file."
    def build(tmp):
        argv = cmd(tmp); (tmp/'file').write_text('x')
        return argv + ['--out', str(tmp/'file'/'out')]
    return build

def without(argv_builder: Callable[[Path], list[str]], *drop: str) -> Callable[[Path], list[str]]:
    return lambda tmp: [a for a in argv_builder(tmp) if a not in drop]

def plus(argv_builder: Callable[[Path], list[str]], *more: str) -> Callable[[Path], list[str]]:
    "The command with more options at the end (argparse: the last value of an option wins)."
    return lambda tmp: argv_builder(tmp) + [m.format(tmp=tmp) for m in more]

def recorded_label_file(want: str) -> Callable[[Path], None]:
    "The run recorded the label file it found, as an absolute path."
    def check(tmp):
        assert json.loads((tmp/'out'/'config.json').read_text())['data']['label_file'] == want.format(tmp=tmp)
    return check

LABELS = '{tmp}/data/labels.csv'
VOC = '{tmp}/data/VOC2012'

# ---------------------------------------------------------------- the cases

CASES = [
    # label files of a folder dataset, through datacheck
    Case('labels-csv-name-only', datacheck_folder(write('labels.csv', 'name\nimg000\nimg001\nimg002\nimg003\n')),
         [LABELS, 'no label column: the header is only "name"']),
    Case('labels-csv-headerless', datacheck_folder(write('labels.csv', 'img000,cat\nimg001,dog\n')),
         [LABELS, 'line 1: the first line must be a header']),
    Case('labels-csv-unknown-column', datacheck_folder(write('labels.csv', 'name,cat,horse\nimg000,1,0\n')),
         [LABELS, "unknown class column(s) ['horse']"]),
    Case('labels-csv-missing-column', datacheck_folder(write('labels.csv', 'name,cat,dog\nimg000,1,0\n')),
         [LABELS, "no column for class(es) ['traffic light']"]),
    Case('labels-csv-row-length', datacheck_folder(write('labels.csv', 'name,labels\nimg000,cat\nimg001,cat,dog\n')),
         [LABELS, 'line 3 (img001): 3 columns, the header has 2']),
    Case('labels-csv-not-0-1', datacheck_folder(write('labels.csv', 'name,cat,dog,traffic light\nimg000,1,0,2\n')),
         [LABELS, 'line 2 (img000): label vector must be 0/1']),
    Case('labels-csv-all-zero', datacheck_folder(write('labels.csv', 'name,labels\nimg000,\nimg001,\nimg002,\nimg003,\n')),
         [LABELS, 'every one of its 4 entries is all zeros']),
    Case('labels-csv-unknown-class', datacheck_folder(write('labels.csv', 'name,labels\nimg000,cat;zebra\n')),
         [LABELS, "line 2 (img000): unknown class name 'zebra'"]),
    Case('labels-csv-image-twice', datacheck_folder(write('labels.csv', 'name,labels\nimg000,cat\nimg000.jpg,dog\n')),
         [LABELS, "line 3 (img000.jpg): image 'img000' is named twice"]),
    Case('labels-csv-missing-images', datacheck_folder(write('labels.csv', 'name,labels\nimg000,cat\n')),
         [LABELS, "3 of the 4 image(s) of split 'all' have no entry in the label file"]),
    Case('labels-csv-unknown-image', datacheck_folder(lambda r: (r/'labels.csv').write_text(
             (r/'labels.csv').read_text() + 'img099,cat\n')),
         [LABELS, "1 entry names no image in {tmp}/data/images, e.g. ['img099']"]),
    Case('labels-csv-not-utf8', datacheck_folder(write('labels.csv', 'name,labels\nimg000,caf\xe9\n'.encode('latin-1'))),
         [LABELS, 'line 2: byte 0xe9 is not UTF-8 text']),
    Case('labels-json-all-zero', datacheck_folder(write('labels.json', json.dumps({f'img{i:03d}': [] for i in range(4)})),
                                                  label_format='json'),
         ['{tmp}/data/labels.json', 'every one of its 4 entries is all zeros']),
    Case('labels-json-wrong-type', datacheck_folder(write('labels.json', json.dumps({'img000': {'labels': 'cat'}})),
                                                    label_format='json'),
         ['{tmp}/data/labels.json', "entry 'img000': expected a list of class names or a 0/1 vector, got a dict"]),
    Case('classes-repeated', datacheck_folder(write('classes.txt', 'cat\ndog\ntraffic light\ncat\n')),
         ['{tmp}/data/classes.txt', "line 4: class 'cat' repeats line 1"]),
    Case('bom-everywhere-accepted', datacheck_folder(lambda r: [(r/f).write_bytes(BOM + (r/f).read_bytes())
                                                                for f in ('classes.txt', 'labels.csv')]),
         ['4 samples', 'bad files: 0'], rc=0, stream='stdout'),
    # --label-file of voc, and the tree itself
    Case('voc-npy-pickle-exploit', datacheck_voc(lambda tmp, r: ['--label-file', str(exploit_npy(tmp))]),
         ['{tmp}/evil.npy', 'refused to unpickle the label file', 'system'], check=no_marker),
    Case('voc-npy-plain-array', datacheck_voc(lambda tmp, r: (np.save(tmp/'a.npy', np.ones((3, 20))),
                                                             ['--label-file', str(tmp/'a.npy')])[1]),
         ['{tmp}/a.npy', 'holds a float64 array of shape (3, 20), not a dict']),
    Case('voc-json-missing-split-images', datacheck_voc(lambda tmp, r: ((tmp/'l.json').write_text(
             json.dumps({'2008_000001': ['cat']})), ['--label-file', str(tmp/'l.json')])[1]),
         ['{tmp}/l.json', "2 of the 3 image(s) of split 'train' have no entry in the label file"]),
    Case('voc-list-bom-accepted', datacheck_voc(lambda tmp, r: ((tmp/'list.txt').write_bytes(BOM + b'2008_000002\n'),
                                                                ['--list-file', str(tmp/'list.txt')])[1]),
         ['1 samples', 'bad files: 0'], rc=0, stream='stdout'),
    Case('voc-huge-image', datacheck_voc(lambda tmp, r: (huge_image(r/'JPEGImages'/'2008_000001.jpg'), [])[1]),
         [f'2008_000001: {VOC}/JPEGImages/2008_000001.jpg: image is 10000x10000 (WxH)', 'bad files: 1'],
         rc=1, stream='stdout'),
    Case('voc-label-mask-disagree', datacheck_voc(lambda tmp, r: (np.save(tmp/'l.npy', {
             **{f'2008_{i:06d}': np.eye(20)[14] for i in range(1, 4)}}, allow_pickle=True),
             ['--label-file', str(tmp/'l.npy')])[1]),
         ['label file vs masks, disagreements:', '2008_000001: the label file says person, the mask has'],
         rc=1, stream='stdout'),
    # cams: refused before anything is written
    Case('cams-labels-csv-name-only', cams('folder', lambda tmp, r: (
             (r/'labels.csv').write_text('name\nimg000\nimg001\nimg002\nimg003\n'), [])[1]),
         [LABELS, 'no label column'], out='out'),
    Case('cams-npy-pickle-exploit', cams('voc', lambda tmp, r: ['--label-file', str(exploit_npy(tmp))]),
         ['{tmp}/evil.npy', 'refused to unpickle the label file'], out='out', check=no_marker),
    Case('cams-json-all-zero-for-split', cams('voc', lambda tmp, r: ((tmp/'l.json').write_text(json.dumps(
             {'2008_000001': [], '2008_000002': [], '2008_000003': [], '2009_000001': ['cat']})),
             ['--label-file', str(tmp/'l.json'), '--split', 'train'])[1]),
         ['{tmp}/l.json', "every image of split 'train' (3) has an all-zero label"], out='out'),
    Case('cams-huge-image', cams('voc', lambda tmp, r: (huge_image(r/'JPEGImages'/'2009_000001.jpg'), ['--split', 'val'])[1]),
         [f'{VOC}/JPEGImages/2009_000001.jpg: image is 10000x10000 (WxH) = 100,000,000 pixels, over the limit'],
         out='out'),
    Case('cams-cache-dir-below-file', cams('voc', lambda tmp, r: ((tmp/'afile').write_text('x'),
                                                                 ['--split', 'val', '--cache-dir', str(tmp/'afile'/'c')])[1]),
         ['--cache-dir {tmp}/afile/c: cannot create the TSE bank cache folder'], out='out'),
    Case('cams-corrupt-image', cams('voc', lambda tmp, r: ((r/'JPEGImages'/'2009_000002.jpg').write_bytes(b'\0garbage'),
                                                          ['--split', 'val'])[1]),
         [f'{VOC}/JPEGImages/2009_000002.jpg: cannot read image: not an image file'], out='out'),
    # coco2voc: the annotation file is checked before anything is written
    Case('coco-unknown-category-id', coco2voc(lambda d: d['annotations'][0].update(category_id=999)),
         ['{tmp}/src/annotations/instances_val2014.json', 'annotation 1 (image 1000): category_id 999 is not among'],
         out='COCO'),
    Case('coco-missing-segmentation', coco2voc(lambda d: d['annotations'][1].pop('segmentation')),
         ['{tmp}/src/annotations/instances_val2014.json', 'annotation 2: no segmentation'], out='COCO'),
    Case('coco-bad-rle', coco2voc(lambda d: d['annotations'][2]['segmentation'].update(size=[8, 8])),
         ['instances_val2014.json', "annotation 3: RLE size [8, 8] differs from the image's"], out='COCO'),
    Case('coco-odd-polygon', coco2voc(lambda d: d['annotations'][0].update(segmentation=[[1, 2, 3, 4, 5, 6, 7]])),
         ['instances_val2014.json', 'annotation 1: a polygon has an odd number (7) of coordinates'], out='COCO'),
    Case('coco-image-without-file', coco2voc(lambda d: d['images'][0].update(file_name='COCO_val2014_gone.jpg')),
         ['instances_val2014.json', '1 of its 4 image file(s) are not in {tmp}/src/val2014', 'COCO_val2014_gone.jpg'],
         out='COCO'),
    Case('coco-annotation-for-unknown-image', coco2voc(lambda d: d['annotations'][0].update(image_id=4)),
         ['instances_val2014.json', "annotation 1: image_id 4 is not among the file's images"], out='COCO'),
    Case('coco-not-json', coco2voc(lambda d: None, raw=lambda d: b'{"images": ['),
         ['instances_val2014.json', 'not valid JSON'], out='COCO'),
    Case('coco-no-annotations', coco2voc(lambda d: d.pop('annotations')),
         ['instances_val2014.json', 'not a COCO instances file: no list annotations'], out='COCO'),
    Case('coco-out-below-a-file', coco2voc(lambda d: None, extra=lambda tmp: (
             (tmp/'file').write_text('x'), ['--out', str(tmp/'file'/'COCO')])[1]),
         ['cannot create output folder {tmp}/file/COCO: {tmp}/file is a file, not a folder'], out='COCO'),
    Case('coco-bom-accepted', coco2voc(lambda d: None, raw=lambda d: BOM + json.dumps(d).encode()),
         ['coco2voc val: 4 images, 4 masks written'], rc=0, stream='stdout'),
    # train: a bad image found by a DataLoader worker
    Case('train-truncated-image-in-worker', train_voc(truncated_training_image),
         [f'{VOC}/JPEGImages/2008_000001.jpg: cannot read image: truncated'], out='out'),
    # run folders (issue 10): masks made with other settings are never reused
    Case('cams-resume-other-settings', cams_twice(['--caa-thre', '0.3'], ['--caa-thre', '0.95']),
         ['{tmp}/out holds outputs made with other settings (excel.pseudo.caa_thre: 0.3 -> 0.95)',
          'use another --out or --no-resume'], check=unchanged_first_run(0.3)),
    Case('cams-resume-other-split', cams_twice([], ['--split', 'train']),
         ["data.split: 'val' -> 'train'"], check=unchanged_first_run(0.79)),
    Case('cams-no-pretrained', without(cams('voc', lambda tmp, r: []), '--pretrained', 'random'),
         ['no CLIP weights given', '--pretrained random'], out='out'),
    Case('cams-limit-negative', cams('voc', lambda tmp, r: ['--limit', '-1']),
         ["argument --limit: must be a whole number >= 1, got '-1'"], out='out'),
    Case('cams-par-iters-negative', cams('voc', lambda tmp, r: ['--par-iters', '-3']),
         ["argument --par-iters: must be a whole number >= 0, got '-3'"], out='out'),
    Case('cams-batch-size-zero', cams('voc', lambda tmp, r: ['--batch-size', '0']),
         ["argument --batch-size: must be a whole number >= 1, got '0'"], out='out'),
    Case('cams-image-size-below-patch', cams('voc', lambda tmp, r: ['--image-size', '8']),
         ['--image-size 8 is smaller than the patch size 16 of excel-tiny-vit'], out='out'),
    Case('cams-caa-out-of-range', cams('voc', lambda tmp, r: ['--caa-thre', '1.5']),
         ["argument --caa-thre: must be a number strictly between 0 and 1, got '1.5'"], out='out'),
    Case('cams-n-svc-too-many', cams('voc', lambda tmp, r: ['--n-svc', '9']),
         ['--n-svc 9 is more than the 6 blocks of excel-tiny-vit'], out='out'),
    Case('cams-out-below-a-file', below_a_file(cams('voc', lambda t, r: [])),
         ['cannot create output folder {tmp}/file/out: {tmp}/file is a file, not a folder']),
    Case('cams-bg-words-empty', cams('voc', lambda tmp, r: ['--bg-words', ' , ']),
         ["--bg-words ' , ' names no background words"], out='out'),
    Case('coco2voc-resume-other-crowd-rule', coco2voc(lambda d: None, extra=lambda tmp: (
             first_run(['coco2voc', '--ann', str(tmp/'src'/'annotations'/'instances_val2014.json'), '--images',
                        str(tmp/'src'/'val2014'), '--out', str(tmp/'COCO'), '--no-progress']), ['--crowd', 'class'])[1]),
         ["{tmp}/COCO holds outputs made with other settings (crowd: 'ignore' -> 'class')", 'or --overwrite']),
    # checkpoints
    Case('infer-checkpoint-other-classes', infer_with(lambda tmp, ck: [
             '--dataset', 'folder', '--root', str(make_folder_dataset(tmp/'f', classes=('cat', 'dog'), n_images=2)),
             '--mode', 'lam']),
         ['{tmp}/final.pt: trained on 20 classes (aeroplane, bicycle, bird, boat, ...)', 'has 2 (cat, dog)',
          'only applies to the class list it was trained on'], out='out'),
    Case('infer-truncated-checkpoint', infer_with(lambda tmp, ck: (
             ck.write_bytes(ck.read_bytes()[:2000]), ['--root', str(tmp/'data'/'VOC2012')])[1]),
         ['{tmp}/final.pt: cannot read the checkpoint: truncated or not a PyTorch file'], out='out'),
    Case('infer-scales-negative', infer_with(lambda tmp, ck: ['--root', str(tmp/'data'/'VOC2012'), '--scales', '1,-2']),
         ["--scales must be one or more numbers in (0, 8], got '1,-2'"], out='out'),
    Case('train-out-below-a-file', below_a_file(train_voc(lambda t, r: None)),
         ['cannot create output folder {tmp}/file/out: {tmp}/file is a file, not a folder']),
    # input sizes that do not fit the CLIP: one line before anything is written (every command with such an option)
    Case('train-crop-below-patch', plus(train_voc(lambda t, r: None), '--crop-size', '8'),
         ['crop_size (--crop-size) 8 is smaller than the patch size 16 of excel-tiny-vit'], out='out'),
    Case('bench-cams-image-size-below-patch', lambda tmp: ['bench', 'cams', '--model', 'excel-tiny-vit', '--image-size', '8',
                                                           '--device', 'cpu', '--repeats', '1'],
         ['--image-size 8 is smaller than the patch size 16 of excel-tiny-vit']),
    Case('bench-train-crop-below-patch', lambda tmp: ['bench', 'train', '--model', 'excel-tiny-vit', '--crop', '8', '--device', 'cpu'],
         ['--crop 8 is smaller than the patch size 16 of excel-tiny-vit']),
    Case('demo-image-size-below-patch', lambda tmp: ['demo', '--out', str(tmp/'out'), '--image-size', '8', '--quiet', '--n-val', '2'],
         ['--image-size 8 is smaller than the patch size 16 of excel-world-vit'], out='out'),
    Case('cams-image-size-too-large', cams('voc', lambda tmp, r: ['--image-size', '4096']),
         ["argument --image-size: must be a whole number of pixels from 1 to 2048 (a square network input), got '4096'"], out='out'),
    # output files whose folder cannot be made: refused before any work
    Case('bench-out-below-a-file', lambda tmp: ((tmp/'file').write_text('x'), ['bench', 'cams', '--model', 'excel-tiny-vit',
                                                '--image-size', '64', '--device', 'cpu', '--out', str(tmp/'file'/'b.json')])[1],
         ['cannot create output folder {tmp}/file: {tmp}/file is a file, not a folder']),
    Case('parity-out-below-a-file', lambda tmp: ((tmp/'file').write_text('x'), ['parity', str(find_golden('case_small.pack')),
                                                 '--out', str(tmp/'file'/'mine.pt')])[1],
         ['cannot create output folder {tmp}/file: {tmp}/file is a file, not a folder']),
    # relative label files: from the current folder, else under --root; both places named when in neither
    Case('cams-label-file-relative-missing', cams('voc', lambda tmp, r: ['--label-file', 'nope_labels.json']),
         [f'label file (--label-file) not found: nope_labels.json (looked in {Path.cwd()}/nope_labels.json and '
          '{tmp}/data/VOC2012/nope_labels.json)'], out='out'),
    Case('cams-label-file-relative-to-root', cams('voc', lambda tmp, r: ['--label-file', 'cls_labels_onehot.npy',
                                                                          '--split', 'val', '--workers', '0']),
         ['pseudo-mask mIoU'], rc=0, stream='stdout', check=recorded_label_file('{tmp}/data/VOC2012/cls_labels_onehot.npy')),
    # descriptions: an unknown name lists every accepted one
    Case('cams-descriptions-unknown', plus(cams('voc', lambda tmp, r: []), '--tse-mode', 'tse', '--descriptions', 'vocc'),
         ["description file not found: vocc (use one of the shipped sets 'voc', 'coco', 'world', or a JSON file"], out='out'),
    # a folder dataset with two label files the loader could pick: refused, naming both
    Case('folder-two-label-files', datacheck_folder(write('labels.json', json.dumps({f'img{i:03d}': ['cat'] for i in range(4)}))),
         ['{tmp}/data holds two label files, {tmp}/data/labels.csv and {tmp}/data/labels.json']),
    Case('cams-folder-two-label-files', cams('folder', lambda tmp, r: ((r/'labels.json').write_text('{}'), [])[1]),
         ['{tmp}/data holds two label files, {tmp}/data/labels.csv and {tmp}/data/labels.json'], out='out'),
    # a ResNet CLIP where ExCEL needs a ViT: refused by name before anything is written
    Case('cams-resnet-clip', plus(cams('voc', lambda tmp, r: []), '--model', 'excel-world-rn'),
         ['ExCEL (SVC) needs a ViT CLIP image tower', 'got a ModifiedResNet', 'cnn_backbone'], out='out'),
    # an empty label row in a folder's label file: accepted (the reference's all-background pseudo mask), said once
    Case('cams-folder-empty-label-row-warned', cams('folder', lambda tmp, r: ((r/'labels.csv').write_text(
             ''.join(l.split(',')[0] + ',\n' if l.startswith('img000,') else l + '\n'
                     for l in (r/'labels.csv').read_text().splitlines())), ['--workers', '0'])[1]),
         ["{tmp}/data/labels.csv: 1 of the 4 image(s) of split 'all' have an empty label row; their pseudo masks are "
          "all background, e.g. ['img000']"], rc=0),
    # datacheck on a folder dataset: --label-file like the other kinds; neither labels nor masks is a finding (exit 1)
    Case('datacheck-folder-label-file', plus(datacheck_folder(lambda r: (r.parent/'mine.csv').write_text(
             (r/'labels.csv').read_text())), '--label-file', '{tmp}/mine.csv'),
         ['4 samples, masks: yes, labels: label file {tmp}/mine.csv', 'bad files: 0'], rc=0, stream='stdout'),
    Case('datacheck-folder-no-labels-no-masks', datacheck_folder(lambda r: None, label_format='none', with_masks=False),
         ['problem: {tmp}/data has neither image-level labels nor masks'], rc=1, stream='stdout'),
]


@pytest.mark.parametrize('case', [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(strict=True, reason=c.xfail)]
                                               if c.xfail else []) for c in CASES])
def test_bad_input(case: Case, tmp_path: Path):
    argv = case.build(tmp_path)
    rc, out, err, exc = run_cli(argv)
    shown = f'argv: {argv}\nrc: {rc}\nstdout:\n{out}\nstderr:\n{err}'
    assert exc is None, f'an exception escaped main: {exc!r}\n{shown}'
    assert 'Traceback' not in out + err, shown
    assert rc == case.rc, shown
    text = err if case.stream == 'stderr' else out
    for frag in case.fragments:
        assert frag.format(tmp=tmp_path) in text, f'missing {frag.format(tmp=tmp_path)!r}\n{shown}'
    if case.rc == 2:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f'excel-nb {argv[0]}: error: '), shown
    if case.out is not None and case.rc != 0:
        left = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path/case.out).rglob('*') if not p.is_dir())
        assert not left, f'files left in the output folder: {left}\n{shown}'
    if case.check is not None: case.check(tmp_path)
