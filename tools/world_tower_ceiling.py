"""How fast can the world CLIP's image tower learn the world's classes at all? A diagnostic behind the README's
'Built-in world' section (issue 13): the tower is trained *supervised* (BCE on the 12 class labels of whole images)
and scored like the world CLIP (mean per-class AUC and top-1 on the same 500 held-out images, seed 0), so its curve
is a ceiling for what contrastive training on captions can reach in the same number of steps.

    .venv/bin/python tools/world_tower_ceiling.py --arch vit16 --res 128 --steps 600 --recipe old              # 2000 fixed images
    .venv/bin/python tools/world_tower_ceiling.py --arch vit16 --res 128 --steps 500 --pool 1000 --fresh 48 --recipe old  # 48 new a step
    .venv/bin/python tools/world_tower_ceiling.py --arch cnn --res 128 --steps 200 --recipe old
    .venv/bin/python tools/world_tower_ceiling.py --arch vit8 --res 128 --steps 150 --pool 1000 --fresh 48 --recipe old  # 8 px patches

--recipe draws the images (training and held-out) from another scene recipe: a JSON object of excel_nb.world's recipe
constants (RECIPE below), or `old` for the world before 2026-11-30 (OLD below; the four runs above were made with it,
then the default).

--arch clip trains the world CLIP itself (excel_nb.world.train_world_clip, its shipped recipe with --steps steps,
one thread) under that scene recipe and prints its probe curve and zero-shot figures on the 500 held-out images.

Their output, with the commit and the load: reports/world_tower_ceiling.txt.

Prints step, training loss, held-out mean AUC, top-1, seconds. Uses one thread unless --threads says otherwise.
"""
import argparse
import time

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from excel_nb.world import SPLIT_CODES, WORLD_CLASSES, make_world_pool, make_world_sample, to_model_input


def labels(metas):
    y = np.zeros((len(metas), len(WORLD_CLASSES)), np.float32)
    for i, m in enumerate(metas):
        for o in m['objects']: y[i, WORLD_CLASSES.index(o['cls'])] = 1
    return y

def tower(arch, res, n_out):
    "'vitP': the world CLIP's ViT shape (8 blocks, width 96, 3 heads) with patch P; 'cnn': 4 conv-BN-ReLU-pool blocks."
    if arch.startswith('vit'):
        from open_clip.transformer import VisionTransformer
        return VisionTransformer(image_size=res, patch_size=int(arch[3:]), width=96, layers=8, heads=3, mlp_ratio=4.0,
                                 output_dim=n_out, pos_embed_type='sin_cos_2d')
    blk = lambda i, o: nn.Sequential(nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2))
    return nn.Sequential(blk(3, 32), blk(32, 64), blk(64, 96), blk(96, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(128, n_out))

OLD = {'N_OBJECTS': [[1, 2, 3], [0.4, 0.35, 0.25]], 'RADIUS': [0.14, 0.32], 'CENTRE': [0.08, 0.92], 'MIN_VISIBLE': 0.4,
       'P_TYPICAL_COLOUR': 0.8, 'P_TYPICAL_TEXTURE': 0.7}
RECIPE = ('N_OBJECTS', 'RADIUS', 'CENTRE', 'MIN_VISIBLE', 'P_TYPICAL_COLOUR', 'P_TYPICAL_TEXTURE')

def set_recipe(spec:str) -> dict:
    "Set excel_nb.world's scene-recipe constants from a JSON object; returns the recipe in force."
    import json
    import excel_nb.world as W
    new = OLD if spec == 'old' else json.loads(spec) if spec else {}
    unknown = set(new) - set(RECIPE)
    if unknown: raise SystemExit(f'--recipe: unknown key(s) {sorted(unknown)}; known: {RECIPE}')
    for k, v in new.items(): setattr(W, k, tuple(tuple(x) if isinstance(x, list) else x for x in v) if isinstance(v, list) else v)
    return {k: getattr(W, k) for k in RECIPE}

def train_clip(a):
    "The world CLIP's own recipe for a.steps steps under the scene recipe in force."
    import tempfile
    from excel_nb.world import WorldTrainCfg, train_world_clip
    with tempfile.TemporaryDirectory() as d:
        r = train_world_clip(d, cfg=WorldTrainCfg(steps=a.steps), threads=a.threads, minutes=600, verbose=False)
    for step, auc, top1 in r['probe_curve']: print(f'clip step {step}: probe (100 images) AUC {auc:.3f} top-1 {top1:.3f}')
    z = r['zero_shot']
    print(f"clip {r['steps_done']} steps in {r['seconds']:.0f} s: held-out AUC {z['mean_auc']:.3f} (softmax "
          f"{z['mean_auc_softmax']:.3f}) top-1 {z['top1']:.3f}", flush=True)

def main():
    from sklearn.metrics import roc_auc_score
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--arch', default='vit16'); p.add_argument('--res', type=int, default=128)
    p.add_argument('--steps', type=int, default=600); p.add_argument('--batch', type=int, default=64)
    p.add_argument('--pool', type=int, default=2000); p.add_argument('--fresh', type=int, default=0)
    p.add_argument('--lr', type=float, default=1e-3); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--recipe', default='', help='scene recipe overrides (JSON), see above')
    a = p.parse_args()
    print('scene recipe', set_recipe(a.recipe), flush=True)
    if a.arch == 'clip': return train_clip(a)
    torch.set_num_threads(a.threads)
    t0 = time.time()
    rs = lambda ims: np.stack([cv2.resize(im, (a.res, a.res), interpolation=cv2.INTER_AREA) for im in ims])
    pool, test = make_world_pool(a.pool, 0, 160, 'clip'), make_world_pool(500, 0, 160, 'heldout')
    X, Y, Xt, Yt = rs(pool.images), labels(pool.metas), rs(test.images), labels(test.metas)
    print(f'data in {time.time() - t0:.0f} s', flush=True)
    torch.manual_seed(0)
    m = tower(a.arch, a.res, len(WORLD_CLASSES))
    opt = torch.optim.AdamW(m.parameters(), lr=a.lr, weight_decay=0.05)
    rng, nxt = np.random.default_rng(0), a.pool
    def evaluate():
        m.eval()
        with torch.no_grad(): s = torch.cat([m(to_model_input(Xt[i:i + 100])) for i in range(0, len(Xt), 100)]).numpy()
        m.train()
        auc = np.mean([roc_auc_score(Yt[:, j], s[:, j]) for j in range(Yt.shape[1])])
        return auc, Yt[np.arange(len(Yt)), s.argmax(1)].mean()
    for step in range(a.steps):
        for _ in range(a.fresh):                      # replace the oldest images by new ones of the same split
            s = make_world_sample((0, SPLIT_CODES['clip'], nxt), 160); k = nxt % len(X); nxt += 1
            X[k], Y[k] = rs([s.image])[0], labels([s.meta])[0]
        for g in opt.param_groups: g['lr'] = a.lr * min(1, (step + 1) / 20) * 0.5 * (1 + np.cos(np.pi * step / a.steps))
        idx = rng.integers(0, len(X), a.batch); xb = X[idx].copy()
        flip = rng.random(a.batch) < 0.5; xb[flip] = xb[flip][:, :, ::-1]
        loss = F.binary_cross_entropy_with_logits(m(to_model_input(xb)), torch.from_numpy(Y[idx]))
        opt.zero_grad(); loss.backward(); opt.step()
        if (step + 1) % 100 == 0:
            auc, top1 = evaluate()
            print(f'{a.arch} {a.res}px step {step + 1}: loss {loss.item():.3f} held-out AUC {auc:.3f} top-1 {top1:.3f} '
                  f'{time.time() - t0:.0f} s ({nxt - a.pool} fresh images)', flush=True)

if __name__ == '__main__':
    main()
