"""Optimizer state that crosses between webgpu-adafactor and PyTorch or JAX.

`Adafactor.saveState()` writes a safetensors file: every state tensor under Hugging Face's names
(`<name>.exp_avg_sq_row`, `.exp_avg_sq_col`, `.exp_avg_sq`, `.exp_avg`; R is the mean over the
factored column dim, removed; C over the row dim) and, in `__metadata__`, the format, the step
count and the options as JSON. This module turns such a file into the state of a torch optimizer
or an optax state, and back, in each library's own layout and dtype:

    load_into_torch(optimizer, path, names=None)   torch.optim.Adafactor, transformers.Adafactor,
                                                   timm.optim.Adafactor, timm.optim.AdafactorBigVision
    save_from_torch(optimizer, path, names)        the reverse: a file loadState() accepts
    to_optax(path, params)                         the optax.adafactor state for params
    from_optax(state, params, path)                the reverse

Needs numpy and safetensors; torch, or jax and optax, only for the functions that use them. A file
whose options the library cannot continue (a factoring rule it does not use, a first moment it
does not keep) is refused with a ValueError naming the tensor and the reason, before anything is
changed.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

import numpy as np

FORMAT = 'webgpu-adafactor/1'


# ----------------------------------------------------------------------------- the file

def _metadata(path) -> dict:
    with open(path, 'rb') as f:
        length = int.from_bytes(f.read(8), 'little')
        header = json.loads(f.read(length))
    metadata = header.get('__metadata__', {})
    if metadata.get('format') != FORMAT:
        raise ValueError(f"{path}: __metadata__.format is {metadata.get('format')!r}, expected {FORMAT!r}")
    return metadata


def _options(metadata: dict) -> dict:
    return json.loads(metadata.get('options', '{}'))


def factored_dims(shape: Sequence[int], options: dict) -> tuple[int, int] | None:
    """(row dim, column dim) of a tensor under the file's factoring rule, or None (a full second moment)."""
    rule = options.get('factorDims', 'last2')
    minimum = options.get('minDimSizeToFactor', 0)
    rank = len(shape)
    if rank < 2:
        return None
    if rule == 'last2':
        dims = (rank - 2, rank - 1)
    elif rule == 'largest2':
        # The two largest, the later one on a tie; R is the mean over the later of the two by position.
        order = sorted(range(rank), key=lambda i: (shape[i], i))
        dims = tuple(sorted(order[-2:]))
    elif rule == 'conv':
        dims = (0, 1) if rank > 2 and shape[0] >= minimum and shape[1] >= minimum else (rank - 2, rank - 1)
    else:
        raise ValueError(f'the file was saved with factorDims {rule!r}, which this module cannot reproduce')
    return dims if min(shape[dims[0]], shape[dims[1]]) >= minimum else None


def _name(names, i):
    return names[i] if names is not None else str(i)


# ----------------------------------------------------------------------------- torch

def _torch_kind(optimizer) -> str:
    module = type(optimizer).__module__
    name = type(optimizer).__name__
    if name == 'AdafactorBigVision':
        return 'timmBigVision'
    if name == 'Adafactor' and 'timm' in module:
        return 'timm'
    if name == 'Adafactor' and module.startswith('transformers'):
        return 'huggingFace'
    if name == 'Adafactor' and module.startswith('torch.optim'):
        return 'torch'
    raise ValueError(f'{module}.{name} is not one of the Adafactors this module knows')


def _params(optimizer):
    return [p for group in optimizer.param_groups for p in group['params']]


def _group_of(optimizer, param):
    for group in optimizer.param_groups:
        if any(p is param for p in group['params']):
            return group
    raise ValueError('a parameter in no group')


def _library_dims(kind: str, shape, group) -> tuple[int, int] | None:
    """The dims the torch library factors, as (row dim, column dim) in this library's sense."""
    rank = len(shape)
    if kind in ('torch', 'huggingFace'):
        return (rank - 2, rank - 1) if rank >= 2 else None
    if kind == 'timm':
        m = group.get('min_dim_size_to_factor', 16)
        if rank > 2 and shape[0] > m and shape[1] > m:
            return (0, 1)
        if rank >= 2 and shape[-2] > m and shape[-1] > m:
            return (rank - 2, rank - 1)
        return None
    # timm's AdafactorBigVision: the two largest when the second largest is at least the size.
    if rank < 2:
        return None
    order = sorted((x, i) for i, x in enumerate(shape))
    if shape[order[-2][1]] < group.get('min_dim_size_to_factor', 16):
        return None
    return tuple(sorted((order[-2][1], order[-1][1])))


def _keeps_momentum(kind: str, group) -> bool:
    if kind == 'torch':
        return False
    if kind == 'timmBigVision':
        return group.get('momentum') is not None
    if kind == 'timm':
        return group.get('beta1') is not None
    return group.get('beta1') is not None


def load_into_torch(optimizer, path, names: Sequence[str] | None = None) -> None:
    """Fills the state of `optimizer` from a file saved by `Adafactor.saveState()`.

    The optimizer's parameters are matched to the file's tensors in order (the first parameter of
    the first group is tensor 0 or `names[0]`, ...). Everything is checked before any state is set.
    """
    import torch
    from safetensors.torch import load_file

    kind = _torch_kind(optimizer)
    metadata = _metadata(path)
    options = _options(metadata)
    tensors = load_file(str(path))
    step = int(metadata['step'])
    params = _params(optimizer)
    if names is not None and len(names) != len(params):
        raise ValueError(f'names has {len(names)} names for {len(params)} parameters')
    states = []
    for i, p in enumerate(params):
        name = _name(names, i)
        shape = tuple(p.shape)
        group = _group_of(optimizer, p)
        dims = factored_dims(shape, options)
        theirs = _library_dims(kind, shape, group)
        if dims != theirs:
            raise ValueError(
                f"tensor '{name}' {list(shape)}: the file factors dims {dims} (factorDims "
                f"{options.get('factorDims', 'last2')!r}, minDimSizeToFactor {options.get('minDimSizeToFactor', 0)}), "
                f'{type(optimizer).__name__} factors {theirs}; save with the preset of that library')
        has_momentum = f'{name}.exp_avg' in tensors
        if has_momentum != _keeps_momentum(kind, group):
            raise ValueError(
                f"tensor '{name}': the file {'keeps' if has_momentum else 'keeps no'} first moment (beta1 "
                f"{options.get('beta1')}), {type(optimizer).__name__} as constructed "
                f"{'does not' if has_momentum else 'does'}")
        needed = [f'{name}.exp_avg_sq_row', f'{name}.exp_avg_sq_col'] if dims else [f'{name}.exp_avg_sq']
        for key in needed:
            if key not in tensors:
                raise ValueError(f"the file has no tensor '{key}'")
        states.append((p, name, dims, has_momentum))

    dtype_of = lambda p: p.dtype  # noqa: E731 (torch keeps state in the parameter's dtype)
    for p, name, dims, has_momentum in states:
        state: dict[str, Any] = {}
        rank = p.dim()
        if dims:
            row = tensors[f'{name}.exp_avg_sq_row'].to(dtype_of(p))
            col = tensors[f'{name}.exp_avg_sq_col'].to(dtype_of(p))
            row_dim, col_dim = dims
            if kind == 'torch':
                state['row_var'] = row.unsqueeze(-1).contiguous()
                state['col_var'] = col.unsqueeze(-2).contiguous()
            elif kind == 'timmBigVision':
                # exp_avg_sq_r is the mean over the largest dim (the later on a tie): keepdim.
                order = sorted((x, i) for i, x in enumerate(p.shape))
                dr = order[-1][1]
                mean_over_col = dr == col_dim
                r, c = (row, col) if mean_over_col else (col, row)
                state['exp_avg_sq_r'] = r.unsqueeze(dr).contiguous()
                state['exp_avg_sq_c'] = c.unsqueeze(order[-2][1]).contiguous()
            else:
                state['exp_avg_sq_row'] = row.contiguous()
                state['exp_avg_sq_col'] = col.contiguous()
        else:
            full = tensors[f'{name}.exp_avg_sq'].to(dtype_of(p)).reshape(p.shape)
            state['variance' if kind == 'torch' else 'exp_avg_sq'] = full.contiguous()
        if has_momentum:
            m = tensors[f'{name}.exp_avg'].reshape(p.shape)
            momentum_dtype = optimizer.defaults.get('momentum_dtype', p.dtype) if kind == 'timmBigVision' else p.dtype
            state['exp_avg'] = m.to(momentum_dtype).contiguous()
        if kind in ('torch',):
            state['step'] = torch.tensor(float(step))
        elif kind == 'timmBigVision':
            state['step'] = torch.tensor(float(step), dtype=torch.float64)
        else:
            state['step'] = step
            state['RMS'] = 0  # recomputed from the parameters at the next step
        del rank
        optimizer.state[p] = state


def save_from_torch(optimizer, path, names: Sequence[str]) -> None:
    """Writes the state of `optimizer` as a file that `Adafactor.loadState()` accepts.

    `names[i]` is the name of the optimizer's i-th parameter in the WebGPU optimizer (its `name`,
    or its index as a string). The options written are those the matching preset gives for the
    optimizer's first group, as far as the state needs them (the factoring rule, beta1).
    """
    import torch
    from safetensors.torch import save_file

    kind = _torch_kind(optimizer)
    params = _params(optimizer)
    if len(names) != len(params):
        raise ValueError(f'names has {len(names)} names for {len(params)} parameters')
    out: dict[str, torch.Tensor] = {}
    steps = set()
    group = optimizer.param_groups[0]
    options = _preset_state_options(kind, group, optimizer)
    for p, name in zip(params, names):
        state = optimizer.state.get(p, {})
        if not state:
            raise ValueError(f"tensor '{name}' has no state yet: step the optimizer first")
        steps.add(int(float(state['step'])))
        shape = tuple(p.shape)
        dims = _library_dims(kind, shape, _group_of(optimizer, p))
        if kind == 'torch':
            if 'row_var' in state:
                out[f'{name}.exp_avg_sq_row'] = state['row_var'].squeeze(-1)
                out[f'{name}.exp_avg_sq_col'] = state['col_var'].squeeze(-2)
            else:
                out[f'{name}.exp_avg_sq'] = state['variance']
        elif kind == 'timmBigVision':
            if 'exp_avg_sq_r' in state:
                order = sorted((x, i) for i, x in enumerate(shape))
                dr, dc = order[-1][1], order[-2][1]
                r = state['exp_avg_sq_r'].squeeze(dr)
                c = state['exp_avg_sq_c'].squeeze(dc)
                row_dim, col_dim = dims
                row, col = (r, c) if dr == col_dim else (c, r)
                out[f'{name}.exp_avg_sq_row'] = row
                out[f'{name}.exp_avg_sq_col'] = col
            else:
                out[f'{name}.exp_avg_sq'] = state['exp_avg_sq']
        else:
            for key in ('exp_avg_sq_row', 'exp_avg_sq_col', 'exp_avg_sq'):
                if key in state:
                    out[f'{name}.{key}'] = state[key]
        if 'exp_avg' in state:
            m = state['exp_avg']
            out[f'{name}.exp_avg'] = m if m.dtype in (torch.bfloat16, torch.float16) else m.float()
    if len(steps) != 1:
        raise ValueError(f'the parameters have different step counts {sorted(steps)}; the file holds one')
    tensors = {k: (v.float() if v.dtype not in (torch.bfloat16, torch.float16) else v).contiguous()
               for k, v in out.items()}
    metadata = {'format': FORMAT, 'step': str(steps.pop()), 'skipped_steps': '0', 'options': json.dumps(options)}
    save_file(tensors, str(path), metadata)


def _preset_state_options(kind: str, group, optimizer) -> dict:
    """The options that shape the state, as the matching preset gives them."""
    if kind == 'torch':
        return {'factorDims': 'last2', 'minDimSizeToFactor': 0}
    if kind == 'huggingFace':
        return {'factorDims': 'last2', 'minDimSizeToFactor': 0, **({'beta1': group['beta1']} if group.get('beta1') is not None else {})}
    if kind == 'timm':
        m = group.get('min_dim_size_to_factor', 16)
        return {'factorDims': 'conv', 'minDimSizeToFactor': int(np.floor(m)) + 1,
                **({'beta1': group['beta1']} if group.get('beta1') is not None else {})}
    dtype = {'torch.bfloat16': 'bf16', 'torch.float16': 'f16'}.get(str(optimizer.defaults.get('momentum_dtype')), 'f32')
    m = group.get('min_dim_size_to_factor', 16)
    return {'factorDims': 'largest2', 'minDimSizeToFactor': int(np.ceil(m)),
            **({'beta1': group['momentum'], 'momentumDtype': dtype} if group.get('momentum') is not None else {})}


# ----------------------------------------------------------------------------- optax

def _optax_dims(shape, min_dim) -> tuple[int, int] | None:
    """optax's factored dims (d1, d0) as (row dim, column dim) by position, or None."""
    if len(shape) < 2:
        return None
    order = np.argsort(shape)
    if shape[order[-2]] < min_dim:
        return None
    return tuple(sorted((int(order[-2]), int(order[-1]))))


def to_optax(path, params, optimizer=None):
    """The `optax.adafactor` state for `params` (a pytree of arrays of the file's tensors' shapes,
    in the file's order) from a file saved by `Adafactor.saveState()`.

    `optimizer`, where given, is the optax transformation whose `init(params)` gives the state's
    structure; by default `optax.adafactor` with the file's momentum and factoring options.
    """
    import jax
    import jax.numpy as jnp
    import optax
    from optax._src.factorized import FactoredState
    from optax._src.transform import EmaState
    from safetensors.flax import load_file

    metadata = _metadata(path)
    options = _options(metadata)
    tensors = load_file(str(path))
    step = int(metadata['step'])
    leaves, treedef = jax.tree.flatten(params)
    min_dim = options.get('minDimSizeToFactor', 0)
    if options.get('factorDims', 'last2') != 'largest2':
        raise ValueError(f"the file factors by {options.get('factorDims', 'last2')!r}; optax factors the two "
                         "largest dims ('largest2'): save with presets.optax")
    if optimizer is None:
        dtype = {'bf16': jnp.bfloat16, 'f16': jnp.float16}.get(options.get('momentumDtype', 'f32'), jnp.float32)
        optimizer = optax.adafactor(momentum=options.get('beta1'), dtype_momentum=dtype,
                                    min_dim_size_to_factor=max(1, min_dim))
    state = optimizer.init(params)
    initial = [x for x in jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, FactoredState))
               if isinstance(x, FactoredState)]
    if len(initial) != 1:
        raise ValueError('the optax transformation is not an optax.adafactor: no FactoredState in its state')
    initial_v = jax.tree.leaves(initial[0].v)
    v_row, v_col, v, mu = [], [], [], []
    for i, leaf in enumerate(leaves):
        name = str(i)
        shape = tuple(leaf.shape)
        ours = factored_dims(shape, options)
        # optax keeps v in the parameter's shape where it does not factor, a dummy [1] where it does.
        optax_factors = len(shape) >= 2 and tuple(initial_v[i].shape) != shape
        theirs = _optax_dims(shape, 1) if optax_factors else None
        if ours != theirs:
            raise ValueError(f"tensor '{name}' {list(shape)}: the file factors dims {ours} (minDimSizeToFactor "
                             f'{min_dim}), the optax transformation {theirs} (its min_dim_size_to_factor; two '
                             'largest dims of equal size are ordered by numpy)')
        if ours:
            row_dim, col_dim = ours
            # optax: v_row is the mean over the largest dim d0 (the later by position here), v_col over d1.
            order = np.argsort(shape)
            d0 = int(order[-1])
            row = tensors[f'{name}.exp_avg_sq_row']
            col = tensors[f'{name}.exp_avg_sq_col']
            v_row.append(row if d0 == col_dim else col)
            v_col.append(col if d0 == col_dim else row)
            v.append(jnp.zeros((1,), leaf.dtype))
        else:
            v_row.append(jnp.zeros((1,), leaf.dtype))
            v_col.append(jnp.zeros((1,), leaf.dtype))
            v.append(tensors[f'{name}.exp_avg_sq'].reshape(shape))
        if f'{name}.exp_avg' in tensors:
            mu.append(tensors[f'{name}.exp_avg'].reshape(shape))
    count = jnp.asarray(step, jnp.int32)

    def fill(node):
        if isinstance(node, FactoredState):
            return FactoredState(count=count, v_row=jax.tree.unflatten(treedef, v_row),
                                 v_col=jax.tree.unflatten(treedef, v_col), v=jax.tree.unflatten(treedef, v))
        if isinstance(node, EmaState):
            if len(mu) != len(leaves):
                raise ValueError('the optax transformation keeps momentum; the file has no first moment (beta1)')
            ema = [m.astype(e.dtype) for m, e in zip(mu, jax.tree.leaves(node.ema))]
            return EmaState(count=count, ema=jax.tree.unflatten(treedef, ema))
        return node

    filled = jax.tree.map(fill, state, is_leaf=lambda x: isinstance(x, (FactoredState, EmaState)))
    if mu and not any(isinstance(x, EmaState) for x in jax.tree.leaves(
            filled, is_leaf=lambda x: isinstance(x, EmaState))):
        raise ValueError('the file keeps a first moment (beta1); the optax transformation has no momentum')
    return filled


def from_optax(state, params, path) -> None:
    """Writes an `optax.adafactor` state for `params` as a file that `Adafactor.loadState()` accepts
    (tensors named by their index in the pytree's order)."""
    import jax
    import jax.numpy as jnp
    from optax._src.factorized import FactoredState
    from optax._src.transform import EmaState
    from safetensors.flax import save_file

    nodes = jax.tree.leaves(state, is_leaf=lambda x: isinstance(x, (FactoredState, EmaState)))
    factored = [x for x in nodes if isinstance(x, FactoredState)]
    ema = [x for x in nodes if isinstance(x, EmaState)]
    if len(factored) != 1:
        raise ValueError('not an optax.adafactor state: no FactoredState in it')
    fs = factored[0]
    leaves = jax.tree.leaves(params)
    v_row, v_col, v = (jax.tree.leaves(x) for x in (fs.v_row, fs.v_col, fs.v))
    mu = jax.tree.leaves(ema[0].ema) if ema else None
    out = {}
    for i, leaf in enumerate(leaves):
        shape = tuple(leaf.shape)
        if len(shape) < 2 or tuple(v[i].shape) == shape:  # optax's v is a dummy [1] where it factors
            out[f'{i}.exp_avg_sq'] = jnp.asarray(v[i], jnp.float32)
        else:
            order = np.argsort(shape)
            d0 = int(order[-1])
            row_dim, col_dim = sorted((int(order[-2]), d0))
            row, col = (v_row[i], v_col[i]) if d0 == col_dim else (v_col[i], v_row[i])
            out[f'{i}.exp_avg_sq_row'] = jnp.asarray(row, jnp.float32)
            out[f'{i}.exp_avg_sq_col'] = jnp.asarray(col, jnp.float32)
        if mu is not None:
            m = mu[i]
            out[f'{i}.exp_avg'] = m if m.dtype in (jnp.bfloat16, jnp.float16) else jnp.asarray(m, jnp.float32)
    options = {'factorDims': 'largest2'}
    if mu is not None:
        options['momentumDtype'] = {'bfloat16': 'bf16', 'float16': 'f16'}.get(str(mu[0].dtype), 'f32')
    metadata = {'format': FORMAT, 'step': str(int(fs.count)), 'skipped_steps': '0', 'options': json.dumps(options)}
    save_file(out, str(path), metadata)
