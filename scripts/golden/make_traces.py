#!/usr/bin/env python3
"""Golden traces of torch.optim.Adafactor and optax.adafactor.

Writes, in the format of test/data/hf-adafactor.json ('adafactor-golden/1'):

    test/data/torch-adafactor.json   torch.optim.Adafactor
    test/data/optax-adafactor.json   optax.adafactor

Run by hand from the repository root (Python is not part of `npm test` or CI;
the output is committed):

    python3 scripts/golden/make_traces.py            # write both files
    python3 scripts/golden/make_traces.py --check    # re-run every case and compare
                                                     # with the files on disk, byte for byte,
                                                     # and print the sanity checks
    python3 scripts/golden/check_traces.py           # independent check of the files (numpy only)

Versions used for the committed files: Python 3.11.7, numpy 2.4.6, torch 2.13.0+cpu,
jax 0.10.2 / jaxlib 0.10.2, optax 0.2.8 (CPU only). The versions that actually ran are
also written into each file's `reference` field.

How the traces are made
- Inputs (initial parameters and gradients) are float32 values drawn with numpy's
  default_rng from a fixed seed (SEED, combined with a per-case number), so a float32
  implementation receives exactly the values the libraries received.
- The libraries run in float64: torch on float64 tensors (on the CPU torch uses its
  single-tensor implementation), jax with `jax_enable_x64` and float64 arrays, one
  operation at a time (not jitted).
- `options` are the library's own argument names and values as its users write them
  (None is null, tuples are lists).  Where what ran differs from what a float32 user of
  those options gets, the case has a `note` (torch: eps[0] = None).  Cases may carry
  further fields that the decoder ignores: `note`, and for optax `decayRates` and
  `initialCount` (see test/data/golden-README.md).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import platform
import sys
import zlib
from pathlib import Path

import numpy as np

SEED = 20240611
ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / 'test' / 'data'
TORCH_FILE = DATA / 'torch-adafactor.json'
OPTAX_FILE = DATA / 'optax-adafactor.json'

STEPS_TEXT = 'each step lists the gradients fed to it and, where not null, the parameters expected after it'
ENCODING_TEXT = ('arrays are base64 of little-endian float32 (init, grads) or float64 (expected, finalState) '
                 'in row-major order; shape [] is a scalar')


# ----------------------------------------------------------------------------- encoding

def b64_f32(a: np.ndarray) -> str:
    a = np.asarray(a)
    f = a.astype('<f4')
    if not np.array_equal(f.astype(np.float64), a.astype(np.float64)):
        raise ValueError('input is not float32-representable')
    return base64.b64encode(f.tobytes()).decode('ascii')


def b64_f64(a) -> str:
    return base64.b64encode(np.asarray(a, dtype='<f8').tobytes()).decode('ascii')


def tensor(a) -> dict:
    a = np.asarray(a, dtype=np.float64)
    return {'shape': list(a.shape), 'data': b64_f64(a)}


def expected_at(n_steps: int, keep=(1, 2, 3, 5, 10, 20, 30)) -> set[int]:
    """1-based steps whose parameters are listed (as in hf-adafactor.json: 1, 2, 3, 5, 10, ...; and the last)."""
    return {s for s in keep if s <= n_steps} | {n_steps}


# ----------------------------------------------------------------------------- inputs

def case_rng(name: str) -> np.random.Generator:
    return np.random.default_rng([SEED, zlib.crc32(name.encode())])


def f32(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float32)


def make_init(rng, shapes, scale=0.5, zero=False):
    return [np.zeros(s, np.float32) if zero else f32(scale * rng.standard_normal(s)) for s in shapes]


def make_grad(rng, shape, scale):
    """Gaussian noise with a random overall scale per step and, for rank >= 2, random
    (log-normal) scales per index of every axis, so that rows and columns differ."""
    g = rng.standard_normal(shape) * scale * math.exp(0.3 * rng.standard_normal())
    for axis, n in enumerate(shape):
        if len(shape) >= 2:
            view = [1] * len(shape)
            view[axis] = n
            g = g * np.exp(0.5 * rng.standard_normal(n)).reshape(view)
    return f32(g)


def make_grads(rng, shapes, n_steps, scale=1.0, vector_scale=None):
    """Gradients for every step; with `vector_scale`, rank 0 and 1 get log-normal magnitudes
    spread over about two decades around it instead."""
    out = []
    for _ in range(n_steps):
        row = []
        for s in shapes:
            if vector_scale is not None and len(s) < 2:
                row.append(f32(rng.standard_normal(s) * vector_scale * np.exp(1.2 * rng.standard_normal(s))))
            else:
                row.append(make_grad(rng, s, scale))
        out.append(row)
    return out


def encode_case(name, options, shapes, init, grads, expected, final_state, extra=None, keep=None):
    keep = expected_at(len(grads)) if keep is None else keep
    case = {
        'name': name,
        'options': options,
        'params': [{'name': f'p{i}', 'shape': list(s), 'init': b64_f32(x)} for i, (s, x) in enumerate(zip(shapes, init))],
        'steps': [
            {'grads': [b64_f32(g) for g in gs],
             'expected': [b64_f64(p) for p in expected[t]] if (t + 1) in keep else None}
            for t, gs in enumerate(grads)
        ],
        'finalState': final_state,
    }
    if extra:
        case.update(extra)
    return case


# ----------------------------------------------------------------------------- torch

TORCH_SHAPES = [[40, 24], [24], [], [3, 7, 5]]


def torch_versions():
    import torch
    return f'torch {torch.__version__}'


def run_torch(kwargs, init, grads):
    """Run torch.optim.Adafactor in float64; return params after every step and the final state."""
    import torch
    params = [torch.tensor(x.astype(np.float64), dtype=torch.float64, requires_grad=True) for x in init]
    opt = torch.optim.Adafactor(params, **kwargs)
    history = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g.astype(np.float64), dtype=torch.float64)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    final = []
    for p in params:
        st = opt.state[p]
        s = {'step': int(st['step'].item())}
        if 'row_var' in st:
            # torch keeps row_var as [..., n, 1] and col_var as [..., 1, m]: saved squeezed
            s['row_var'] = tensor(st['row_var'].squeeze(-1).numpy())
            s['col_var'] = tensor(st['col_var'].squeeze(-2).numpy())
        else:
            s['variance'] = tensor(st['variance'].numpy())
        final.append(s)
    return history, final


def torch_note():
    import torch
    e = torch.finfo(torch.float32).eps
    return (f'eps[0] is None in these options; torch resolves it to torch.finfo(param.dtype).eps, which is '
            f'{torch.finfo(torch.float64).eps!r} for the float64 tensors of this run but {e!r} for the float32 '
            f'parameters a user has. The trace therefore ran with eps=({e!r}, {{eps2}}) passed explicitly: '
            f'what a float32 user of these options gets.')


def torch_cases():
    """(name, options as the user writes them, kwargs that ran, shapes, n_steps, input maker, note?)."""
    import torch
    e32 = torch.finfo(torch.float32).eps
    S = TORCH_SHAPES

    def std(rng, shapes, n):
        return make_init(rng, shapes), make_grads(rng, shapes, n)

    def small(rng, shapes, n):
        # matrices: gradient RMS ~1e-6 .. 1e-5 (row/col means of g^2 ~1e-11, far under eps1 = 1.19e-7:
        # torch's floor on mean(R) is active, and the estimate R C / eps1 falls under the floor eps1^2 =
        # 1.4e-14 in part of the entries); vectors and the scalar: |g| log-normal around 3e-8 (g^2 under
        # eps1^2 in most, not all, entries). --check prints how often each floor is active.
        return make_init(rng, shapes), make_grads(rng, shapes, n, scale=3e-6, vector_scale=3e-8)

    def zero(rng, shapes, n):
        # The scalar's gradient keeps one sign: from 0 its steps are exactly +-alpha (= eps2 * lr) while
        # clipped, and a return to 0 would leave only rounding noise (~1e-21) to compare.
        grads = make_grads(rng, shapes, n)
        for gs in grads:
            for i, s in enumerate(shapes):
                if len(s) == 0:
                    gs[i] = np.abs(gs[i])
        return make_init(rng, shapes, zero=True), grads

    # (name, user options, the kwargs that ran (None: same as options), shapes, steps, inputs, eps2 for the note)
    return [
        ('torch-defaults', {}, {'eps': (e32, 1e-3)}, S, 10, std),
        ('lr-3e-3', {'lr': 3e-3}, {'lr': 3e-3, 'eps': (e32, 1e-3)}, S, 8, std),
        ('lr-0.5-relative-step-cap', {'lr': 0.5}, {'lr': 0.5, 'eps': (e32, 1e-3)}, S, 10, std),
        ('lr-0.1-weight-decay-0.1', {'lr': 0.1, 'weight_decay': 0.1},
         {'lr': 0.1, 'weight_decay': 0.1, 'eps': (e32, 1e-3)}, S, 10, std),
        ('beta2-decay-0.5-d-1.2', {'beta2_decay': -0.5, 'd': 1.2},
         {'beta2_decay': -0.5, 'd': 1.2, 'eps': (e32, 1e-3)}, S, 10, std),
        ('explicit-eps', {'eps': [1e-6, 1e-2]}, {'eps': (1e-6, 1e-2)}, S, 8, std),
        ('small-gradients-eps-floor', {}, {'eps': (e32, 1e-3)}, S, 10, small),
        ('zero-init', {}, {'eps': (e32, 1e-3)}, S, 8, zero),
        ('long-run-30-steps', {}, {'eps': (e32, 1e-3)}, S, 30, std),
        ('maximize', {'maximize': True}, {'maximize': True, 'eps': (e32, 1e-3)}, S, 5, std),
    ]


def torch_trace():
    out = []
    for name, options, kwargs, shapes, n, inputs in torch_cases():
        rng = case_rng('torch/' + name)
        init, grads = inputs(rng, shapes, n)
        history, final = run_torch(kwargs, init, grads)
        extra = None
        if 'eps' not in options:
            extra = {'note': torch_note().replace('{eps2}', repr(kwargs['eps'][1]))}
        out.append(encode_case(name, options, shapes, init, grads, history, final, extra))
    return {
        'format': 'adafactor-golden/1',
        'reference': (f'torch.optim.Adafactor ({torch_versions()}, single-tensor implementation on the CPU), run in '
                      f'float64; options use its argument names; Python {platform.python_version()}, '
                      f'numpy {np.__version__}; made by scripts/golden/make_traces.py'),
        'steps': STEPS_TEXT,
        'encoding': ENCODING_TEXT,
        'cases': out,
    }


# ----------------------------------------------------------------------------- optax

def jax_setup():
    import jax
    jax.config.update('jax_enable_x64', True)
    return jax


def optax_versions():
    import jax
    import jaxlib
    import optax
    return f'optax {optax.__version__}, jax {jax.__version__}, jaxlib {jaxlib.__version__}'


# [130, 128]: both dims >= 128 (128 itself counts), factored under the default min_dim_size_to_factor;
# [40, 24]: not factored by default. The rank-3 tensors (batch dim first, and largest dims not the
# last two) are kept small and factored with min_dim_size_to_factor=16; [8, 30] is then not factored.
OPTAX_BIG = [[130, 128], [24], []]
OPTAX_SMALL = [[20, 18], [6, 20], [2, 16, 18], [18, 2, 16], [20], []]
# To keep the file small, optax cases list the parameters after steps 1, 3 and the last only
# (learning-rate-0.01, with its 16640-element matrix, runs 2 steps and lists the parameters after the last only).
OPTAX_KEEP = (1, 3)
SCHEDULE = ('optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value=0.02, warmup_steps=3, '
            'decay_steps=6, end_value=0.001)')


def optax_kwargs(options):
    """The options as JSON to keyword arguments of optax.adafactor."""
    import optax
    kw = dict(options)
    lr = kw.get('learning_rate')
    if isinstance(lr, dict):
        kw['learning_rate'] = eval(lr['schedule'], {'optax': optax})  # noqa: S307 (our own constant)
    return kw


def find_states(state):
    from optax._src.factorized import FactoredState
    from optax._src.transform import EmaState
    import jax
    leaves = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, (FactoredState, EmaState)))
    fs = [x for x in leaves if isinstance(x, FactoredState)]
    ema = [x for x in leaves if isinstance(x, EmaState)]
    assert len(fs) == 1 and len(ema) <= 1
    return fs[0], (ema[0] if ema else None)


def run_optax(options, init, grads, initial_count=None):
    """Run optax.adafactor in float64 (x64); return params after each step, final state, decay rates."""
    jax = jax_setup()
    import jax.numpy as jnp
    import optax
    from optax._src import factorized

    kw = optax_kwargs(options)
    opt = optax.adafactor(**kw)
    params = [jnp.asarray(x.astype(np.float64)) for x in init]
    state = opt.init(params)
    if initial_count is not None:
        fs, _ = find_states(state)
        new_fs = fs._replace(count=jnp.asarray(initial_count, jnp.int32))
        state = jax.tree.map(lambda x: new_fs if x is fs else x, state,
                             is_leaf=lambda x: x is fs)
    decay_rate = kw.get('decay_rate', 0.8)
    offset = kw.get('decay_offset', 0)
    history, decay_rates = [], []
    for gs in grads:
        fs, _ = find_states(state)
        # exactly what scale_by_factored_rms computes (float32, see the README)
        decay_rates.append(float(factorized._decay_rate_pow(fs.count - offset, decay_rate)))
        g = [jnp.asarray(x.astype(np.float64)) for x in gs]
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)
        history.append([np.asarray(p, dtype=np.float64).copy() for p in params])
    for p in params:
        assert p.dtype == jnp.float64

    fs, ema = find_states(state)
    factored = kw.get('factored', True)
    min_dim = kw.get('min_dim_size_to_factor', 128)
    final = []
    for i, p in enumerate(params):
        s = {'step': int(fs.count)}
        if factorized._factored_dims(p.shape, factored, min_dim) is not None:
            s['v_row'] = tensor(fs.v_row[i])
            s['v_col'] = tensor(fs.v_col[i])
        else:
            # optax keeps dummy v_row/v_col of shape [1] here: omitted
            s['v'] = tensor(fs.v[i])
        if ema is not None:
            s['mu'] = tensor(np.asarray(ema.ema[i]).astype(np.float64))
        final.append(s)
    return history, final, decay_rates


def optax_cases():
    S, B = OPTAX_SMALL, OPTAX_BIG

    def std(rng, shapes, n):
        return make_init(rng, shapes), make_grads(rng, shapes, n)

    # (name, options, shapes, steps, inputs, initial count or None, note or None)
    return [
        ('learning-rate-0.01', {'learning_rate': 0.01}, B, 2, std, None,
         '[130, 128] is factored under the default min_dim_size_to_factor=128 (128 itself counts); the '
         'parameters are listed after the last step only, to keep the file small'),
        ('learning-rate-0.01-min-dim-16', {'learning_rate': 0.01, 'min_dim_size_to_factor': 16}, S, 10, std, None,
         'all tensors of rank >= 2 but [6, 20] are factored; the factored dims are the two largest '
         '([2, 16, 18]: 1 and 2; [18, 2, 16]: 0 and 2)'),
        ('learning-rate-none', {'learning_rate': None}, S, 8, std, None,
         'no learning rate: the step is the clipped update times the RMS of the parameter; under the default '
         'min_dim_size_to_factor=128 no tensor here is factored'),
        ('momentum-weight-decay', {'learning_rate': 0.01, 'momentum': 0.9, 'weight_decay_rate': 0.01,
                                   'min_dim_size_to_factor': 16}, S, 8, std, None,
         'dtype_momentum is float32 (the default), so optax keeps mu in float32: at each step it computes, '
         'in float64, m = (1 - 0.9) * u + float32(float32(0.9) * mu) (the product is a float32 product), '
         'uses m as the update and stores mu = float32(m); weight decay comes after the learning rate and '
         'momentum, not scaled by them: param -= m + 0.01 * param'),
        ('no-parameter-scale-no-clipping', {'learning_rate': 0.01, 'multiply_by_parameter_scale': False,
                                            'clipping_threshold': None, 'min_dim_size_to_factor': 16},
         S, 8, std, None, None),
        ('unfactored', {'learning_rate': 0.01, 'factored': False, 'min_dim_size_to_factor': 16}, S, 8, std, None,
         'factored=False keeps a full v for every tensor whatever min_dim_size_to_factor says'),
        ('decay-offset-2-resumed-at-count-5', {'learning_rate': 0.01, 'decay_offset': 2,
                                               'min_dim_size_to_factor': 16}, S, 8, std, 5,
         'the optimizer state is optax.adafactor(...).init(params) with the count of its scale_by_factored_rms '
         'state set to 5 (initialCount), as when resuming; step k (1-based) then uses count 4 + k, and the '
         'decay 1 - (count - decay_offset + 1) ** -0.8. From count 0, any decay_offset > 0 gives NaN at '
         'the first step (see the README).'),
        ('warmup-cosine-schedule', {'learning_rate': {'schedule': SCHEDULE}, 'min_dim_size_to_factor': 16},
         S, 8, std, None,
         'the schedule is called with the count of its own state: count t - 1 at step t; values are what it '
         'returns (float32)'),
    ]


def optax_trace():
    jax_setup()
    import jax.numpy as jnp
    import optax
    out = []
    for name, options, shapes, n, inputs, initial_count, note in optax_cases():
        rng = case_rng('optax/' + name)
        init, grads = inputs(rng, shapes, n)
        lr = options.get('learning_rate')
        if isinstance(lr, dict):
            sched = eval(lr['schedule'], {'optax': optax})  # noqa: S307
            lr['values'] = [float(sched(jnp.asarray(c, jnp.int32))) for c in range(n)]
        history, final, decay_rates = run_optax(options, init, grads, initial_count)
        extra = {'decayRates': decay_rates}
        if initial_count is not None:
            extra['initialCount'] = initial_count
        if note:
            extra['note'] = note
        keep = {n} if shapes is OPTAX_BIG else expected_at(n, OPTAX_KEEP)
        out.append(encode_case(name, options, shapes, init, grads, history, final, extra, keep))
    return {
        'format': 'adafactor-golden/1',
        'reference': (f'optax.adafactor ({optax_versions()}), run in float64 (jax_enable_x64, float64 arrays, '
                      f'not jitted) on the CPU; options use its argument names; Python {platform.python_version()}, '
                      f'numpy {np.__version__}; made by scripts/golden/make_traces.py'),
        'steps': STEPS_TEXT,
        'encoding': ENCODING_TEXT,
        'cases': out,
    }


# ----------------------------------------------------------------------------- checks

def rel(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def sanity_checks():
    """Checks that the interesting cases exercise what they claim (printed, not written)."""
    import torch
    e32 = torch.finfo(torch.float32).eps
    cases = {c[0]: c for c in torch_cases()}

    def rerun(name, **override):
        _, _, kwargs, shapes, n, inputs = cases[name]
        init, grads = inputs(case_rng('torch/' + name), shapes, n)
        h, _ = run_torch({**kwargs, **override}, init, grads)
        return init, grads, h

    init, grads, h = rerun('small-gradients-eps-floor')
    _, _, h0 = rerun('small-gradients-eps-floor', eps=(0.0, 1e-3))
    _, _, h64 = rerun('small-gradients-eps-floor', eps=(None, 1e-3))
    print('torch small-gradients: relative difference of the params after the last step, with eps1 = 0 '
          'instead of float32 eps:', [f'{rel(a, b):.3g}' for a, b in zip(h0[-1], h[-1])])
    print('   ... of the distance travelled (params - init):',
          [f'{rel(a - x, b - x):.3g}' for a, b, x in zip(h0[-1], h[-1], init)])
    print('   ... with eps1 = None (float64 eps):', [f'{rel(a, b):.3g}' for a, b in zip(h64[-1], h[-1])],
          [f'{rel(a - x, b - x):.3g}' for a, b, x in zip(h64[-1], h[-1], init)])
    # replay the first step by hand to count where each floor is active
    for i, g in enumerate(grads[0]):
        g = g.astype(np.float64)
        if g.ndim >= 2:
            r = (g * g).mean(-1, keepdims=True)
            c = (g * g).mean(-2, keepdims=True)
            m = r.mean(-2, keepdims=True)
            est = r @ c / np.maximum(m, e32)
            print(f'   step 1, p{i} {list(g.shape)}: mean(R) = {m.ravel()[:3]} (floor eps1 = {e32:.3g}); '
                  f'estimate under eps1^2 in {np.mean(est < e32 * e32):.0%} of entries')
        else:
            print(f'   step 1, p{i} {list(g.shape)}: g^2 under eps1^2 in {np.mean(g * g < e32 * e32):.0%} of entries')
    gv = np.concatenate([gs[1] for gs in grads])
    print(f'   all steps, p1: |g| from {np.abs(gv).min():.2g} to {np.abs(gv).max():.2g}, '
          f'g^2 under eps1^2 in {np.mean(gv * gv < e32 * e32):.0%} of entries; '
          f'p2 (scalar): {[float(gs[2]) for gs in grads]}')
    for name in ('torch-defaults', 'long-run-30-steps'):
        _, _, h = rerun(name)
        _, _, h64 = rerun(name, eps=(None, 1e-3))
        print(f'torch {name}: eps1 float32 vs float64 eps, relative difference after the last step:',
              [f'{rel(a, b):.3g}' for a, b in zip(h64[-1], h[-1])])
    _, _, h = rerun('beta2-decay-0.5-d-1.2')
    _, _, hd = rerun('beta2-decay-0.5-d-1.2', d=1.0)
    _, _, hinf = rerun('beta2-decay-0.5-d-1.2', d=1e9)
    print('torch beta2-decay-0.5-d-1.2: vs d=1:', [f'{rel(a, b):.3g}' for a, b in zip(hd[-1], h[-1])],
          'vs no clipping:', [f'{rel(a, b):.3g}' for a, b in zip(hinf[-1], h[-1])])
    _, _, h = rerun('torch-defaults')
    _, _, hf = rerun('torch-defaults', foreach=True)
    print('torch-defaults: foreach=True vs the single-tensor run:', [f'{rel(a, b):.3g}' for a, b in zip(hf[-1], h[-1])])

    jax_setup()
    import jax.numpy as jnp
    import optax
    from optax._src import factorized
    ocases = {c[0]: c for c in optax_cases()}

    def rerun_optax(name, **override):
        _, options, shapes, n, inputs, count0, _ = ocases[name]
        init, grads = inputs(case_rng('optax/' + name), shapes, n)
        options = {**options, **override}
        lr = options.get('learning_rate')
        if isinstance(lr, dict):
            options['learning_rate'] = {'schedule': lr['schedule']}
        return run_optax(options, init, grads, count0)[0]

    h = rerun_optax('no-parameter-scale-no-clipping')
    hc = rerun_optax('no-parameter-scale-no-clipping', clipping_threshold=1.0)
    print('optax no-parameter-scale-no-clipping vs clipping_threshold=1:',
          [f'{rel(a, b):.3g}' for a, b in zip(hc[-1], h[-1])])
    h = rerun_optax('unfactored')
    hf = rerun_optax('unfactored', factored=True)
    print('optax unfactored vs factored=True:', [f'{rel(a, b):.3g}' for a, b in zip(hf[-1], h[-1])])
    h = rerun_optax('learning-rate-none')
    print('optax learning-rate-none: max |param| after each step:', [f'{max(np.abs(p).max() for p in ps):.3g}' for ps in h])
    h = rerun_optax('decay-offset-2-resumed-at-count-5')
    h0 = rerun_optax('decay-offset-2-resumed-at-count-5', decay_offset=0)
    print('optax decay-offset-2-resumed-at-count-5 vs decay_offset=0 (same count):',
          [f'{rel(a, b):.3g}' for a, b in zip(h0[-1], h[-1])])
    print('optax decay for count - decay_offset = -2, -1, 0, 1:',
          [float(factorized._decay_rate_pow(jnp.int32(k), 0.8)) for k in (-2, -1, 0, 1)])
    p = [jnp.asarray(np.array([[0.5, -1.0], [0.25, 2.0]]))]
    opt = optax.adafactor(learning_rate=0.01, decay_offset=2)
    st = opt.init(p)
    for k in range(3):
        u, st = opt.update([jnp.ones((2, 2))], st, p)
        p = optax.apply_updates(p, u)
        print(f'   optax decay_offset=2 from count 0, after step {k + 1}: params {np.asarray(p[0]).ravel()}')


def dump(obj) -> str:
    return json.dumps(obj, separators=(', ', ': ')) + '\n'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true', help='re-run and compare with the files, print sanity checks')
    ap.add_argument('--only', choices=['torch', 'optax'])
    args = ap.parse_args()
    print(f'Python {platform.python_version()}, numpy {np.__version__}, {torch_versions()}, {optax_versions()}',
          file=sys.stderr)
    jobs = [('torch', TORCH_FILE, torch_trace), ('optax', OPTAX_FILE, optax_trace)]
    for key, path, make in jobs:
        if args.only and args.only != key:
            continue
        text = dump(make())
        if args.check:
            same = path.exists() and path.read_text() == text
            again = dump(make()) == text
            print(f'{path.relative_to(ROOT)}: {"identical to" if same else "DIFFERS from"} the file; '
                  f'a second run in this process is {"identical" if again else "DIFFERENT"}')
        else:
            path.write_text(text)
            print(f'wrote {path.relative_to(ROOT)} ({len(text):,} bytes)')
    if args.check:
        sanity_checks()


if __name__ == '__main__':
    main()
