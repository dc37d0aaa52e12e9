#!/usr/bin/env python3
"""Fixtures of state that crosses from PyTorch and JAX into webgpu-adafactor.

For each library (torch.optim.Adafactor, transformers.Adafactor, timm.optim.Adafactor,
timm.optim.AdafactorBigVision, optax.adafactor): 5 steps there, the state written by
python/webgpu_adafactor.py (save_from_torch, from_optax), then 5 more steps there. Writes
test/data/crossing/<case>.safetensors (the state after step 5) and test/data/crossing/cases.json
(the library, its arguments, the parameters after step 5 as float32, the gradients of steps 6 to
10 and the parameters the library reached after step 10). `npm test` loads each file with
`loadState`, takes steps 6 to 10 and compares (test/node/crossing.test.ts).

Run by hand from the repository root (Python is not part of `npm test` or CI):

    python3 scripts/golden/make_crossing_fixtures.py
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'python'))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import webgpu_adafactor as wa  # noqa: E402
from make_timm_traces import timm_modules  # noqa: E402

OUT = ROOT / 'test' / 'data' / 'crossing'
SEED = 20261207
# Rank 0 to 4, factored and not (under each library's rule).
SHAPES = [[], [20], [24, 20], [3, 7, 5], [18, 17, 2, 2]]

CASES = [
    ('torch', 'torch-defaults', {'lr': 0.01}),
    ('huggingFace', 'huggingface-beta1-external-lr', {'lr': 0.01, 'relative_step': False, 'beta1': 0.9}),
    ('timm', 'timm-betas-caution', {'lr': 0.01, 'betas': [0.9, 0.999], 'caution': True, 'min_dim_size_to_factor': 4}),
    ('timmBigVision', 'bigvision-bf16', {'lr': 0.01, 'min_dim_size_to_factor': 4}),
    ('timmBigVision', 'bigvision-f32-no-momentum', {'lr': 0.01, 'momentum': None}),
    ('optax', 'optax-momentum-min-dim-4', {'learning_rate': 0.01, 'momentum': 0.9, 'min_dim_size_to_factor': 4}),
]


def b64(a, dtype):
    return base64.b64encode(np.asarray(a, dtype=dtype).tobytes()).decode('ascii')


def torch_optimizer(library, params, kwargs):
    import torch
    if library == 'torch':
        return torch.optim.Adafactor(params, **kwargs)
    if library == 'huggingFace':
        from transformers.optimization import Adafactor
        return Adafactor(params, **kwargs)
    adafactor, bigvision = timm_modules()
    kw = dict(kwargs)
    if 'betas' in kw:
        kw['betas'] = tuple(kw['betas'])
    return (adafactor if library == 'timm' else bigvision)(params, **kw)


def run_torch(library, kwargs, init, grads, path):
    import torch
    params = [torch.tensor(x, dtype=torch.float32, requires_grad=True) for x in init]
    opt = torch_optimizer(library, params, kwargs)
    middle = None
    for t, gs in enumerate(grads, start=1):
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g, dtype=torch.float32)
        opt.step()
        if t == 5:
            wa.save_from_torch(opt, path, [str(i) for i in range(len(params))])
            middle = [p.detach().numpy().copy() for p in params]
    return middle, [p.detach().numpy().copy() for p in params]


def run_optax(kwargs, init, grads, path):
    import jax.numpy as jnp
    import optax
    opt = optax.adafactor(**kwargs)
    params = [jnp.asarray(x) for x in init]
    state = opt.init(params)
    middle = None
    for t, gs in enumerate(grads, start=1):
        updates, state = opt.update([jnp.asarray(g) for g in gs], state, params)
        params = optax.apply_updates(params, updates)
        if t == 5:
            wa.from_optax(state, params, path)
            middle = [np.asarray(p).copy() for p in params]
    return middle, [np.asarray(p).copy() for p in params]


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    cases = []
    for k, (library, name, kwargs) in enumerate(CASES):
        rng = np.random.default_rng([SEED, k])
        init = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in SHAPES]
        grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(10)]
        path = OUT / f'{name}.safetensors'
        if library == 'optax':
            middle, end = run_optax(kwargs, init, grads, path)
        else:
            middle, end = run_torch(library, kwargs, init, grads, path)
        cases.append({
            'name': name,
            'library': library,
            'options': kwargs,
            'shapes': SHAPES,
            'state': path.name,
            'paramsAfter5': [b64(p, '<f4') for p in middle],
            'grads6to10': [[b64(g, '<f4') for g in gs] for gs in grads[5:]],
            'paramsAfter10': [b64(p, '<f8') for p in end],
        })
        print(f'{name}: wrote {path.relative_to(ROOT)}')
    (OUT / 'cases.json').write_text(json.dumps({'format': 'webgpu-adafactor-crossing/1', 'cases': cases}) + '\n')


if __name__ == '__main__':
    main()
