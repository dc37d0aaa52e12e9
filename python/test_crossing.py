#!/usr/bin/env python3
"""The Python side of state crossing, run by hand (not part of `npm test`):

    npm run build:lib && python3 python/test_crossing.py

For each library (torch.optim.Adafactor, transformers.Adafactor, timm.optim.Adafactor,
timm.optim.AdafactorBigVision, optax.adafactor) and its preset's arguments: 5 steps with this
library on WebGPU in Node (scripts/crossing/run_webgpu.mjs), saveState, load_into_torch (to_optax)
into that library's optimizer over the parameters after step 5, 5 steps there; the result must be
the 10 steps here within 1e-5 of RMS(x) (1e-4 with a 16-bit first moment). Then the refusals: a
file with a first moment into an optimizer without one, a factoring the library does not use.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'python'))
sys.path.insert(0, str(ROOT / 'scripts' / 'golden'))
import webgpu_adafactor as wa  # noqa: E402
from make_crossing_fixtures import SHAPES, torch_optimizer  # noqa: E402

CASES = [
    ('torch', {'lr': 0.01}, False),
    ('torch', {'lr': 0.003, 'weight_decay': 0.1}, False),
    ('huggingFace', {'lr': 0.01, 'relative_step': False, 'beta1': 0.9}, False),
    ('huggingFace', {}, False),
    ('timm', {'lr': 0.01, 'betas': [0.9, 0.999], 'caution': True, 'min_dim_size_to_factor': 4}, False),
    ('timm', {'min_dim_size_to_factor': 4}, False),
    ('timmBigVision', {'lr': 0.01, 'min_dim_size_to_factor': 4}, True),
    ('timmBigVision', {'lr': 0.01, 'momentum_dtype': 'float32', 'weight_decay': 0.01}, False),
    ('timmBigVision', {'lr': 0.01, 'momentum': None}, False),
    ('optax', {'learning_rate': 0.01, 'momentum': 0.9, 'min_dim_size_to_factor': 4}, False),
    ('optax', {'learning_rate': 0.01, 'min_dim_size_to_factor': 16}, False),
]


def b64(a):
    return base64.b64encode(np.asarray(a, dtype='<f4').tobytes()).decode('ascii')


def floats(text):
    return np.frombuffer(base64.b64decode(text), dtype='<f4')


def run_here(library, options, init, grads, folder):
    job = {'library': library, 'options': options, 'shapes': SHAPES, 'saveAfter': 5,
           'init': [b64(x) for x in init], 'grads': [[b64(g) for g in gs] for gs in grads]}
    (folder / 'job.json').write_text(json.dumps(job))
    state = folder / 'state.safetensors'
    subprocess.run(['node', str(ROOT / 'scripts' / 'crossing' / 'run_webgpu.mjs'), str(folder / 'job.json'),
                    str(state), str(folder / 'params.json')], check=True)
    out = json.loads((folder / 'params.json').read_text())
    reshape = lambda xs: [floats(x).reshape(s) for x, s in zip(xs, SHAPES)]  # noqa: E731
    return state, reshape(out['middle']), reshape(out['end'])


def continue_there(library, options, state, middle, grads):
    if library == 'optax':
        import jax.numpy as jnp
        import optax
        opt = optax.adafactor(**options)
        params = [jnp.asarray(x) for x in middle]
        st = wa.to_optax(state, params, opt)
        for gs in grads:
            updates, st = opt.update([jnp.asarray(g) for g in gs], st, params)
            params = optax.apply_updates(params, updates)
        return [np.asarray(p) for p in params]
    import torch
    params = [torch.tensor(x.copy(), requires_grad=True) for x in middle]
    opt = torch_optimizer(library, params, options)
    wa.load_into_torch(opt, state)
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g)
        opt.step()
    return [p.detach().numpy() for p in params]


def worst(actual, expected):
    out = 0.0
    for a, e in zip(actual, expected):
        e = np.asarray(e, np.float64)
        scale = np.sqrt(np.mean(e * e)) or 1.0
        out = max(out, float(np.max(np.abs(np.asarray(a, np.float64) - e))) / scale if e.size else 0.0)
    return out


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k, (library, options, sixteen) in enumerate(CASES):
            rng = np.random.default_rng([7, k])
            init = [rng.standard_normal(s).astype(np.float32) * 0.5 for s in SHAPES]
            grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(10)]
            state, middle, end = run_here(library, options, init, grads, folder)
            there = continue_there(library, options, state, middle, grads[5:])
            error = worst(there, end)
            tolerance = 1e-4 if sixteen else 1e-5
            ok = error <= tolerance
            failures += not ok
            print(f'{"ok  " if ok else "FAIL"} {library} {json.dumps(options)}: 5 steps here, 5 there vs 10 here: '
                  f'max |x - x_here| / RMS = {error:.2e} (tolerance {tolerance:g})')

        # Refusals: nothing is set when a file does not fit.
        import torch
        rng = np.random.default_rng(99)
        init = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
        grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(5)]
        state, middle, _ = run_here('huggingFace', {'lr': 0.01, 'relative_step': False, 'beta1': 0.9}, init, grads, folder)
        for library, options, expected in [
            ('torch', {'lr': 0.01}, 'keeps first moment'),
            ('timmBigVision', {'lr': 0.01}, 'factors'),
        ]:
            params = [torch.tensor(x.copy(), requires_grad=True) for x in middle]
            opt = torch_optimizer(library, params, options)
            try:
                wa.load_into_torch(opt, state)
                print(f'FAIL {library}: a mismatched file was accepted')
                failures += 1
            except ValueError as error:
                ok = expected in str(error) and len(opt.state) == 0
                failures += not ok
                print(f'{"ok  " if ok else "FAIL"} {library} refuses a file of presets.huggingFace with beta1: {error}')
    print('all passed' if failures == 0 else f'{failures} failed')
    sys.exit(1 if failures else 0)


if __name__ == '__main__':
    main()
