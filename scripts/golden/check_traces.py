#!/usr/bin/env python3
"""Independent check of the golden traces written by make_traces.py.

Re-implements torch.optim.Adafactor and optax.adafactor in plain numpy (float64),
from the decoded JSON alone, and compares every listed parameter and the final
state with the traces. This documents, in executable form, what the traces contain
(state names and shapes, float32 steps inside optax) and needs neither torch nor jax:

    python3 scripts/golden/check_traces.py

Exits non-zero if any relative error (2-norm) exceeds 1e-12.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parents[2] / 'test' / 'data'
TOL = 1e-12


def f32(s):
    return np.frombuffer(base64.b64decode(s), '<f4').astype(np.float64)


def f64(s):
    return np.frombuffer(base64.b64decode(s), '<f8').copy()


def rel(a, b):
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    assert a.shape == b.shape, (a.shape, b.shape)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def rms(x):
    return float(np.sqrt(np.mean(np.square(x))))


# ----------------------------------------------------------------------------- torch

def torch_step(p, g, st, t, o):
    lr = o.get('lr', 1e-2)
    beta2_decay = o.get('beta2_decay', -0.8)
    eps1, eps2 = o['eps']
    d = o.get('d', 1.0)
    wd = o.get('weight_decay', 0.0)
    if o.get('maximize', False):
        g = -g
    beta = t ** beta2_decay                       # 1 - beta2_t
    rho = min(lr, 1 / t ** 0.5)
    alpha = max(eps2, rms(p)) * rho               # from the parameter before weight decay
    if wd != 0:
        p = p * (1 - lr * wd)
    if g.ndim > 1:
        r = st['row_var'] + beta * ((g * g).mean(-1) - st['row_var'])       # [..., n]
        c = st['col_var'] + beta * ((g * g).mean(-2) - st['col_var'])       # [..., m]
        st['row_var'], st['col_var'] = r, c
        est = r[..., :, None] * c[..., None, :] / np.maximum(r.mean(-1), eps1)[..., None, None]
    else:
        st['variance'] = est = st['variance'] + beta * (g * g - st['variance'])
    u = g / np.sqrt(np.maximum(est, eps1 * eps1))
    denom = max(1.0, rms(u) / d)
    return p - alpha / denom * u


def torch_init_state(shape):
    if len(shape) > 1:
        return {'row_var': np.zeros(shape[:-1]), 'col_var': np.zeros(shape[:-2] + shape[-1:])}
    return {'variance': np.zeros(shape)}


# ----------------------------------------------------------------------------- optax

def factored_dims(shape, o):
    if not o.get('factored', True) or len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < o.get('min_dim_size_to_factor', 128):
        return None
    return int(order[-2]), int(order[-1])


def optax_init_state(shape, o):
    dims = factored_dims(shape, o)
    st = {}
    if dims:
        d1, d0 = dims
        st['v_row'] = np.zeros([n for i, n in enumerate(shape) if i != d0])
        st['v_col'] = np.zeros([n for i, n in enumerate(shape) if i != d1])
    else:
        st['v'] = np.zeros(shape)
    if o.get('momentum') is not None:
        st['mu'] = np.zeros(shape)
    return st


def optax_step(p, g, st, t, o, beta):
    eps = o.get('eps', 1e-30)
    b = float(np.float32(beta))
    one_minus = float(np.float32(1.0 - b))        # float32 arithmetic, as in optax
    gsq = g * g + eps
    dims = factored_dims(p.shape, o)
    if dims:
        d1, d0 = dims
        st['v_row'] = b * st['v_row'] + one_minus * gsq.mean(axis=d0)
        st['v_col'] = b * st['v_col'] + one_minus * gsq.mean(axis=d1)
        reduced_d1 = d1 - 1 if d1 > d0 else d1
        row_factor = (st['v_row'] / st['v_row'].mean(axis=reduced_d1, keepdims=True)) ** -0.5
        col_factor = st['v_col'] ** -0.5
        u = g * np.expand_dims(row_factor, d0) * np.expand_dims(col_factor, d1)
    else:
        st['v'] = b * st['v'] + one_minus * gsq
        u = g * st['v'] ** -0.5
    thr = o.get('clipping_threshold', 1.0)
    if thr is not None:
        u = u / max(1.0, rms(u) / thr)
    lr = o.get('learning_rate')
    if isinstance(lr, dict):
        u = u * lr['values'][t - 1]
    elif lr is not None:
        u = u * lr
    if o.get('multiply_by_parameter_scale', True):
        s = rms(p)
        u = u * (s if s > 1e-3 else 1e-3)
    m = o.get('momentum')
    if m is not None:
        # dtype_momentum=float32: mu is kept in float32, so m * mu is a float32 product (m rounded to
        # float32), added in float64 to (1 - m) * u; the sum is the update, and is stored rounded to float32
        decayed = (np.float32(m) * st['mu'].astype(np.float32)).astype(np.float64)
        u = (1 - m) * u + decayed
        st['mu'] = u.astype(np.float32).astype(np.float64)
    wd = o.get('weight_decay_rate')
    if wd is not None:
        u = u + wd * p
    return p - u


# ----------------------------------------------------------------------------- driver

def check_file(path, lib):
    data = json.loads(path.read_text())
    assert data['format'] == 'adafactor-golden/1'
    worst_all = 0.0
    for case in data['cases']:
        o = dict(case['options'])
        shapes = [tuple(p['shape']) for p in case['params']]
        params = [f32(p['init']).reshape(s) for p, s in zip(case['params'], shapes)]
        if lib == 'torch':
            o.setdefault('eps', [float(np.finfo(np.float32).eps), 1e-3])   # see the case's note
            states = [torch_init_state(s) for s in shapes]
        else:
            states = [optax_init_state(s, o) for s in shapes]
            count0 = case.get('initialCount', 0)
            off = o.get('decay_offset', 0)
            for k, beta in enumerate(case['decayRates']):
                x = count0 + k - off + 1
                approx = np.float32(1.0) - np.float32(x ** -o.get('decay_rate', 0.8))
                assert abs(float(approx) - beta) <= 2 * 2 ** -24, (case['name'], k, beta, approx)
        worst = 0.0
        for t, step in enumerate(case['steps'], start=1):
            grads = [f32(g).reshape(s) for g, s in zip(step['grads'], shapes)]
            if lib == 'torch':
                params = [torch_step(p, g, st, t, o) for p, g, st in zip(params, grads, states)]
            else:
                beta = case['decayRates'][t - 1]
                params = [optax_step(p, g, st, t, o, beta) for p, g, st in zip(params, grads, states)]
            if step['expected'] is not None:
                for p, e in zip(params, step['expected']):
                    worst = max(worst, rel(p, f64(e)))
        for st, want, s in zip(states, case['finalState'], shapes):
            steps = len(case['steps']) + (case.get('initialCount', 0) if lib == 'optax' else 0)
            assert want['step'] == steps, (case['name'], want['step'])
            assert set(want) - {'step'} == set(st), (case['name'], set(want), set(st))
            for key, value in st.items():
                assert list(value.shape) == want[key]['shape'], (case['name'], key, value.shape, want[key]['shape'])
                worst = max(worst, rel(value, f64(want[key]['data'])))
        print(f'{lib:5} {case["name"]:40} worst relative error {worst:.2e}')
        worst_all = max(worst_all, worst)
    return worst_all


def main():
    worst = max(check_file(DATA / 'torch-adafactor.json', 'torch'), check_file(DATA / 'optax-adafactor.json', 'optax'))
    print(f'worst {worst:.2e} (tolerance {TOL:g})')
    sys.exit(0 if worst < TOL else 1)


if __name__ == '__main__':
    main()
