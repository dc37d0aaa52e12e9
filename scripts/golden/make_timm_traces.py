#!/usr/bin/env python3
"""Golden traces of timm's Adafactor and AdafactorBigVision, and of optax.adafactor with a 16-bit momentum.

Writes, in the format of test/data/hf-adafactor.json ('adafactor-golden/1'):

    test/data/timm-adafactor.json   timm.optim.Adafactor and timm.optim.AdafactorBigVision
                                    (cases[].library: 'timm' or 'timmBigVision'),
                                    and optax.adafactor with dtype_momentum (library: 'optax')

Run by hand from the repository root (Python is not part of `npm test` or CI; the output is
committed):

    python3 scripts/golden/make_timm_traces.py           # write the file
    python3 scripts/golden/make_timm_traces.py --check   # re-run and compare with the file

timm's package import wants torchvision; its optimizer modules do not, so adafactor.py and
adafactor_bv.py (with the two helper modules they import) are loaded from their files.

How the traces are made (as make_traces.py: float32 inputs from a fixed seed, the libraries in
float64), plus:
- `options` are the library's keyword arguments as its users write them; `schedule`, where a case
  has one, lists the lr a torch scheduler sets on the group before each step (t = 1, 2, ...),
  while the constructor's lr stays (timm's max_lr for corrected weight decay).
- A 16-bit momentum is kept in that type, as each library keeps it (timm: torch's lerp_ on the
  bf16 / f16 tensor; optax: decay * mu in the 16-bit type, the cast after the update); the rest
  of the step runs in float64.
- The final state is saved squeezed where a library keeps reduced dims (timm's
  AdafactorBigVision: exp_avg_sq_r and exp_avg_sq_c keep them).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import platform
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_traces import (  # noqa: E402 (the shared encoding and inputs)
    ROOT,
    case_rng,
    dump,
    encode_case,
    find_states,
    jax_setup,
    make_grads,
    make_init,
    tensor,
)

TIMM_FILE = ROOT / 'test' / 'data' / 'timm-adafactor.json'
STEPS = 8

# A linear layer, a bias, a scalar, a small 3-D tensor, a convolution kernel [out, in, kh, kw]
# (factored on dims 0 and 1 by timm's Adafactor, on its two largest by AdafactorBigVision), and a
# matrix whose larger dim comes first. No two largest dims tie: optax picks between tied dims by
# numpy's argsort, which is not stable (np.argsort([17, 17, 2, 2]) is [3, 2, 1, 0] with numpy 2.4
# on this machine), so which factor it calls v_row is not determined by the shape alone.
SHAPES = [[24, 20], [20], [], [3, 7, 5], [18, 17, 2, 2], [40, 17]]


def timm_modules():
    """timm.optim's adafactor.py and adafactor_bv.py, loaded from their files without the package."""
    spec = importlib.util.find_spec('timm')
    folder = Path(spec.submodule_search_locations[0]) / 'optim'
    package = types.ModuleType('timm_optim_files')
    package.__path__ = [str(folder)]
    sys.modules['timm_optim_files'] = package

    def load(name):
        full = f'timm_optim_files.{name}'
        if full in sys.modules:
            return sys.modules[full]
        module_spec = importlib.util.spec_from_file_location(full, folder / f'{name}.py')
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[full] = module
        module_spec.loader.exec_module(module)
        return module

    load('_types')
    load('_helpers')
    return load('adafactor').Adafactor, load('adafactor_bv').AdafactorBigVision


def versions():
    from importlib.metadata import version
    import jax
    import optax
    import torch
    return f'timm {version("timm")}, torch {torch.__version__}, jax {jax.__version__}, optax {optax.__version__}'


def cosine(peak, warmup, total, end):
    """The lr before step t = 1..total: linear warmup to peak, then cosine to end (changes every step)."""
    def at(t):
        if t <= warmup:
            return peak * t / warmup
        progress = (t - warmup) / max(1, total - warmup)
        return end + 0.5 * (peak - end) * (1 + math.cos(math.pi * progress))
    return [at(t) for t in range(1, total + 1)]


def inverse_sqrt(peak, total):
    return [peak / math.sqrt(t) for t in range(1, total + 1)]


# (library, name, keyword arguments, schedule values or None)
CASES = [
    ('timm', 'timm-defaults-relative-step', {}, None),
    ('timm', 'timm-betas-caution-weight-decay-schedule',
     {'lr': 0.01, 'betas': [0.9, 0.999], 'caution': True, 'weight_decay': 0.05, 'min_dim_size_to_factor': 4},
     cosine(0.01, 3, STEPS, 0.001)),
    ('timm', 'timm-warmup-init-betas-caution',
     {'betas': [0.8, 0.999], 'caution': True, 'warmup_init': True, 'clip_threshold': 0.5}, None),
    ('timm', 'timm-lr-no-betas-conv-rule', {'lr': 0.003, 'decay_rate': -0.5, 'eps_scale': 1e-2,
                                            'min_dim_size_to_factor': 2}, None),
    ('timmBigVision', 'bigvision-defaults-bf16', {'lr': 0.01}, None),
    ('timmBigVision', 'bigvision-f16-caution-scaled-wd-schedule',
     {'lr': 0.02, 'momentum_dtype': 'float16', 'caution': True, 'weight_decay': 0.05}, cosine(0.02, 4, STEPS, 0.002)),
    ('timmBigVision', 'bigvision-f32-unscaled-corrected-wd-cap-schedule',
     {'lr': 0.02, 'momentum_dtype': 'float32', 'weight_decay': 0.01, 'unscaled_wd': True,
      'corrected_weight_decay': True, 'beta2_cap': 0.5}, inverse_sqrt(0.02, STEPS)),
    ('timmBigVision', 'bigvision-bf16-caution-corrected-scaled-wd-schedule',
     {'lr': 0.03, 'caution': True, 'weight_decay': 0.1, 'corrected_weight_decay': True,
      'min_dim_size_to_factor': 4}, cosine(0.03, 2, STEPS, 0.0)),
    ('timmBigVision', 'bigvision-no-momentum-decay-0.5',
     {'lr': 0.01, 'momentum': None, 'decay_rate': 0.5, 'weight_decay': 0.02}, None),
    ('optax', 'optax-bf16-momentum',
     {'learning_rate': 0.01, 'momentum': 0.9, 'dtype_momentum': 'bfloat16', 'min_dim_size_to_factor': 16}, None),
    ('optax', 'optax-f16-momentum-no-parameter-scale',
     {'learning_rate': 0.02, 'momentum': 0.8, 'dtype_momentum': 'float16', 'min_dim_size_to_factor': 4,
      'multiply_by_parameter_scale': False, 'weight_decay_rate': 0.01}, None),
]


def run_timm(optimizer_class, kwargs, schedule, init, grads):
    """Run a timm optimizer on float64 parameters; return params after every step and the final state."""
    import torch
    params = [torch.tensor(x.astype(np.float64), dtype=torch.float64, requires_grad=True) for x in init]
    kw = dict(kwargs)
    if 'betas' in kw and kw['betas'] is not None:
        kw['betas'] = tuple(kw['betas'])
    opt = optimizer_class(params, **kw)
    history = []
    for t, gs in enumerate(grads, start=1):
        if schedule is not None:
            for group in opt.param_groups:
                group['lr'] = schedule[t - 1]
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g.astype(np.float64), dtype=torch.float64)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history, [timm_state(opt.state[p], p.shape) for p in params]


def timm_state(st, shape):
    s = {'step': int(st['step'].item()) if hasattr(st['step'], 'item') else int(st['step'])}
    for key in ('exp_avg_sq_row', 'exp_avg_sq_col', 'exp_avg_sq', 'exp_avg'):
        if key in st:
            s[key] = tensor(st[key].double().numpy())
    # AdafactorBigVision keeps the reduced dims (keepdim): squeezed, under the names of the dims kept.
    if 'exp_avg_sq_r' in st:
        s['exp_avg_sq_r'] = tensor(st['exp_avg_sq_r'].double().numpy().reshape(
            [n for n, k in zip(shape, st['exp_avg_sq_r'].shape) if k != 1 or n == 1]))
        s['exp_avg_sq_c'] = tensor(st['exp_avg_sq_c'].double().numpy().reshape(
            [n for n, k in zip(shape, st['exp_avg_sq_c'].shape) if k != 1 or n == 1]))
    return s


def run_optax(kwargs, init, grads):
    jax = jax_setup()
    import jax.numpy as jnp
    import optax
    kw = dict(kwargs)
    kw['dtype_momentum'] = getattr(jnp, kw['dtype_momentum'])
    opt = optax.adafactor(**kw)
    params = [jnp.asarray(x.astype(np.float64)) for x in init]
    state = opt.init(params)
    history = []
    for gs in grads:
        g = [jnp.asarray(x.astype(np.float64)) for x in gs]
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        history.append([np.asarray(p, dtype=np.float64).copy() for p in params])
    fs, ema = find_states(state)
    assert ema.ema[0].dtype == kw['dtype_momentum']
    final = []
    for i in range(len(params)):
        s = {'step': int(fs.count)}
        if fs.v_row[i].size > 1 or fs.v_col[i].size > 1:
            s['v_row'] = tensor(fs.v_row[i])
            s['v_col'] = tensor(fs.v_col[i])
        else:
            s['v'] = tensor(fs.v[i])
        s['mu'] = tensor(np.asarray(ema.ema[i], dtype=np.float64))
        final.append(s)
    del jax
    return history, final


def trace():
    timm_adafactor, timm_bigvision = timm_modules()
    cases = []
    for library, name, kwargs, schedule in CASES:
        rng = case_rng(f'timm/{name}')
        init = make_init(rng, SHAPES)
        grads = make_grads(rng, SHAPES, STEPS)
        if library == 'optax':
            history, final = run_optax(kwargs, init, grads)
        else:
            optimizer = timm_adafactor if library == 'timm' else timm_bigvision
            history, final = run_timm(optimizer, kwargs, schedule, init, grads)
        extra = {'library': library}
        if schedule is not None:
            extra['schedule'] = schedule
        cases.append(encode_case(name, kwargs, SHAPES, init, grads, history, final, extra, keep={1, 3, STEPS}))
    return {
        'format': 'adafactor-golden/1',
        'reference': f'Python {platform.python_version()}, numpy {np.__version__}, {versions()}; float64 but for '
                     'a 16-bit momentum, kept in its type',
        'steps': 'each step lists the gradients fed to it and, where not null, the parameters expected after it',
        'encoding': 'arrays are base64 of little-endian float32 (init, grads) or float64 (expected, finalState) '
                    'in row-major order; shape [] is a scalar',
        'cases': cases,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true', help='re-run and compare with the file')
    args = ap.parse_args()
    print(f'Python {platform.python_version()}, numpy {np.__version__}, {versions()}', file=sys.stderr)
    text = dump(trace())
    if args.check:
        same = TIMM_FILE.exists() and TIMM_FILE.read_text() == text
        print(f'{TIMM_FILE.relative_to(ROOT)}: {"identical to" if same else "DIFFERS from"} the file')
    else:
        TIMM_FILE.write_text(text)
        print(f'wrote {TIMM_FILE.relative_to(ROOT)} ({len(text):,} bytes)')


if __name__ == '__main__':
    main()
