#!/usr/bin/env python3
"""Golden traces of edge values: arguments at the ends of what each library accepts.

Writes test/data/edge-traces.json ('adafactor-golden/1' cases, grouped by library) with
torch.optim.Adafactor, optax.adafactor and Hugging Face transformers' Adafactor run on the values a
preset must reproduce: a decay exponent of 0 (beta2_t = 0 at every step), an infinite clipping
threshold, a zero parameter-scale floor, momentum 0, a learning rate of 0 or of infinity,
min_dim_size_to_factor of 0, a fraction or infinity, torch's foreach kernels, warm-up.

    python3 scripts/golden/make_edge_traces.py           # write the file
    python3 scripts/golden/make_edge_traces.py --check   # re-run and compare with the file

A number JSON cannot hold (infinity) is written in `options` as the string 'Infinity'; the
decoder (test/gpu/golden.ts) turns it back into a number. Inputs, encoding and float64 runs are
those of make_traces.py (same helpers). Run by hand: Python is not part of npm test or CI.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_traces as mt  # noqa: E402

EDGE_FILE = mt.DATA / 'edge-traces.json'
INF = math.inf


def json_options(options: dict) -> dict:
    """Options as JSON can hold them: infinity as the string 'Infinity' (lists too)."""
    def value(v):
        if isinstance(v, float) and math.isinf(v):
            return 'Infinity' if v > 0 else '-Infinity'
        if isinstance(v, (list, tuple)):
            return [value(x) for x in v]
        return v
    return {k: value(v) for k, v in options.items()}


def std(rng, shapes, n):
    return mt.make_init(rng, shapes), mt.make_grads(rng, shapes, n)


def zero(rng, shapes, n):
    return mt.make_init(rng, shapes, zero=True), mt.make_grads(rng, shapes, n)


# ----------------------------------------------------------------------------- torch

def torch_edge_cases():
    import torch
    e32 = torch.finfo(torch.float32).eps
    S = mt.TORCH_SHAPES
    # (name, options as the user writes them, the kwargs that ran, steps, inputs)
    return [
        ('beta2-decay-0', {'beta2_decay': 0.0}, {'beta2_decay': 0.0, 'eps': (e32, 1e-3)}, 6, std),
        ('d-infinity', {'d': INF}, {'d': INF, 'eps': (e32, 1e-3)}, 6, std),
        ('eps2-0', {'eps': [None, 0.0]}, {'eps': (e32, 0.0)}, 6, std),
        ('eps2-0-zero-init', {'eps': [None, 0.0]}, {'eps': (e32, 0.0)}, 4, zero),
        ('lr-0', {'lr': 0.0}, {'lr': 0.0, 'eps': (e32, 1e-3)}, 4, std),
        ('lr-infinity', {'lr': INF}, {'lr': INF, 'eps': (e32, 1e-3)}, 6, std),
        ('lr-infinity-no-decay', {'lr': INF, 'weight_decay': 0.0}, {'lr': INF, 'weight_decay': 0.0, 'eps': (e32, 1e-3)}, 4, std),
        ('foreach', {'foreach': True}, {'foreach': True, 'eps': (e32, 1e-3)}, 6, std),
        ('weight-decay-lr-0.5', {'lr': 0.5, 'weight_decay': 0.5}, {'lr': 0.5, 'weight_decay': 0.5, 'eps': (e32, 1e-3)}, 6, std),
    ]


def torch_edge():
    out = []
    for name, options, kwargs, n, inputs in torch_edge_cases():
        rng = mt.case_rng('torch-edge/' + name)
        init, grads = inputs(rng, mt.TORCH_SHAPES, n)
        history, final = mt.run_torch(kwargs, init, grads)
        note = None
        if 'eps' not in options or options['eps'][0] is None:
            note = mt.torch_note().replace('{eps2}', repr(kwargs['eps'][1]))
        out.append(mt.encode_case(name, json_options(options), mt.TORCH_SHAPES, init, grads, history, final,
                                  {'note': note} if note else None))
    return out


# ----------------------------------------------------------------------------- optax

def optax_edge_cases():
    S = mt.OPTAX_SMALL
    return [
        ('decay-rate-0', {'learning_rate': 0.01, 'decay_rate': 0.0, 'min_dim_size_to_factor': 16}, 6),
        ('momentum-0', {'learning_rate': 0.01, 'momentum': 0.0, 'min_dim_size_to_factor': 16}, 6),
        ('min-dim-0', {'learning_rate': 0.01, 'min_dim_size_to_factor': 0}, 6),
        ('min-dim-16.5', {'learning_rate': 0.01, 'min_dim_size_to_factor': 16.5}, 6),
        ('min-dim-infinity', {'learning_rate': 0.01, 'min_dim_size_to_factor': INF}, 6),
        ('learning-rate-0', {'learning_rate': 0.0, 'min_dim_size_to_factor': 16}, 4),
        ('clipping-infinity', {'learning_rate': 0.01, 'clipping_threshold': INF, 'min_dim_size_to_factor': 16}, 6),
        ('weight-decay-0', {'learning_rate': 0.01, 'weight_decay_rate': 0.0, 'min_dim_size_to_factor': 16}, 6),
    ], S


def optax_edge():
    cases, shapes = optax_edge_cases()
    out = []
    for name, options, n in cases:
        rng = mt.case_rng('optax-edge/' + name)
        init, grads = std(rng, shapes, n)
        history, final, decay_rates = mt.run_optax(options, init, grads)
        out.append(mt.encode_case(name, json_options(options), shapes, init, grads, history, final,
                                  {'decayRates': decay_rates}, mt.expected_at(n, mt.OPTAX_KEEP)))
    return out


# ----------------------------------------------------------------------------- Hugging Face

HF_SHAPES = [[40, 24], [24], [], [3, 7, 5]]


def run_hf(kwargs, init, grads):
    """Run transformers' Adafactor in float64; params after every step and the final state."""
    import torch
    from transformers.optimization import Adafactor
    params = [torch.tensor(x.astype(np.float64), dtype=torch.float64, requires_grad=True) for x in init]
    opt = Adafactor(params, **kwargs)
    history = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = torch.tensor(g.astype(np.float64), dtype=torch.float64)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    final = []
    for p in params:
        st = opt.state[p]
        s = {'step': int(st['step'])}
        for key in ('exp_avg_sq_row', 'exp_avg_sq_col', 'exp_avg_sq', 'exp_avg'):
            if key in st:
                s[key] = mt.tensor(st[key].numpy())
        final.append(s)
    return history, final


def hf_edge_cases():
    return [
        ('decay-rate-0', {'decay_rate': 0.0}, 6, std),
        ('eps2-0', {'eps': [1e-30, 0.0]}, 6, std),
        ('eps2-0-zero-init', {'eps': [1e-30, 0.0]}, 4, zero),
        ('clip-threshold-infinity', {'clip_threshold': INF}, 6, std),
        ('beta1-0', {'beta1': 0.0}, 6, std),
        ('warmup-init', {'warmup_init': True}, 6, std),
        ('lr-0', {'lr': 0.0, 'relative_step': False}, 4, std),
        ('weight-decay-0.5-lr-0.1', {'lr': 0.1, 'relative_step': False, 'weight_decay': 0.5}, 6, std),
    ]


def hf_edge():
    out = []
    for name, options, n, inputs in hf_edge_cases():
        rng = mt.case_rng('hf-edge/' + name)
        init, grads = inputs(rng, HF_SHAPES, n)
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
        history, final = run_hf(kwargs, init, grads)
        out.append(mt.encode_case(name, json_options(options), HF_SHAPES, init, grads, history, final))
    return out


def versions():
    import transformers
    return f'{mt.torch_versions()}, transformers {transformers.__version__}, {mt.optax_versions()}'


def make():
    mt.jax_setup()
    return {
        'format': 'adafactor-golden/1',
        'reference': (f'edge values of torch.optim.Adafactor, optax.adafactor and transformers Adafactor ({versions()}), '
                      f'run in float64; options use each library\'s argument names, infinity written as the string '
                      f'\'Infinity\'; Python {platform.python_version()}, numpy {np.__version__}; made by '
                      f'scripts/golden/make_edge_traces.py'),
        'steps': mt.STEPS_TEXT,
        'encoding': mt.ENCODING_TEXT,
        'libraries': {'torch': torch_edge(), 'optax': optax_edge(), 'huggingFace': hf_edge()},
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--check', action='store_true', help='re-run and compare with the file')
    args = ap.parse_args()
    print(f'Python {platform.python_version()}, numpy {np.__version__}, {versions()}', file=sys.stderr)
    text = mt.dump(make())
    if args.check:
        same = EDGE_FILE.exists() and EDGE_FILE.read_text() == text
        print(f'{EDGE_FILE.relative_to(mt.ROOT)}: {"identical to" if same else "DIFFERS from"} the file')
    else:
        EDGE_FILE.write_text(text)
        print(f'wrote {EDGE_FILE.relative_to(mt.ROOT)} ({len(text):,} bytes)')


if __name__ == '__main__':
    main()
