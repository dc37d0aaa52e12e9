import { describe, expect, it } from 'vitest';
import { planTensors } from '../../src/gpu/plan.js';
import { SHADER } from '../../src/gpu/interface.js';
import { tileGeometry } from '../../src/gpu/kernels.js';
import { elementIndex, geometry, withFactoringRule } from '../../src/core/shape.js';

const tiles = tileGeometry('wide');

describe('the tensor table', () => {
  it('reads its tile geometry from the shaders', () => {
    expect(SHADER.constants).toMatchObject({
      WORKGROUP_SIZE: 64,
      TILE_ROWS: 96,
      TILE_COLS: 256,
      VECTOR_TILE: 4096,
      LINE_BLOCK: 64,
    });
    expect(tiles).toMatchObject({
      WORKGROUP_SIZE: 64,
      TILE_ROWS: 96,
      TILE_COLS: 256,
      VECTOR_TILE: 4096,
      LINE_BLOCK: 64,
      TENSOR_SCALARS: 8,
    });
  });

  it('groups tensors by (parameter buffer, gradient buffer) and lays out tiles in order', () => {
    const [a, b, c] = ['A', 'B', 'C'];
    const input = (shape: number[], param: string, grad: string) => ({
      geom: geometry(shape, 't'),
      paramBuffer: param,
      gradBuffer: grad,
      paramOffset: 0,
      gradOffset: 0,
      paramElementBytes: 4,
      gradElementBytes: 4,
      settings: 0,
      momentum: false,
    });
    const plan = planTensors(
      [input([300, 65], a, b), input([5000], c, b), input([], a, b), input([0, 4], a, b)],
      tiles,
    );
    expect(plan.groups.map((g) => [g.paramBuffer, g.gradBuffer, g.firstTensor, g.tensorCount])).toEqual([
      [a, b, 0, 2],
      [c, b, 2, 1],
    ]);
    const [matrix, scalar, vector] = plan.tensors.map((t) => t.fields);
    expect(plan.tensors.map((t) => t.input)).toEqual([0, 2, 1]); // the empty tensor is left out
    expect(matrix).toMatchObject({
      tileRowCount: 4,
      tileColCount: 1,
      tileCount: 4,
      firstTile: 0,
      firstLineBlock: 0,
      rowState: 0,
      colState: 300,
    });
    expect(scalar).toMatchObject({ factored: 0, tileCount: 1, firstTile: 4, firstLineBlock: 5, fullState: 0 });
    expect(vector).toMatchObject({ tileCount: 2, firstTile: 0, fullState: 1 });
    expect(plan.tensors.map((t) => t.whole)).toEqual([false, true, false]); // the scalar is one tile
    expect(plan.groups[0]).toMatchObject({
      tileCount: 5,
      lineBlockCount: 5,
      factoredTensorCount: 1,
      wholeTensorCount: 1,
    });
    expect(plan.groups[1]).toMatchObject({ tileCount: 2, lineBlockCount: 0, factoredTensorCount: 0 });
    expect(plan.factorStateLength).toBe(300 + 65);
    expect(plan.fullStateLength).toBe(1 + 5000);
    expect(plan.momentumLength).toBe(0);
  });

  const input = (shape: number[]) => ({
    geom: geometry(shape, 't'),
    paramBuffer: 'A',
    gradBuffer: 'B',
    paramOffset: 0,
    gradOffset: 0,
    paramElementBytes: 4,
    gradElementBytes: 4,
    settings: 0,
    momentum: false,
  });

  it('puts the factored tensors of a group first, so that their tiles lead every window', () => {
    const plan = planTensors([input([7]), input([8, 9]), input([]), input([2, 3, 4])], tiles, false);
    expect(plan.tensors.map((t) => t.input)).toEqual([1, 3, 0, 2]);
    expect(plan.tensors.every((t) => !t.whole)).toBe(true);
  });

  it('puts small tensors (one tile) last, stepped whole, small matrices and vectors interleaved', () => {
    const plan = planTensors(
      [input([5000]), input([8, 9]), input([300, 70]), input([4]), input([]), input([3, 3]), input([6])],
      tiles,
    );
    expect(plan.tensors.map((t) => t.input)).toEqual([2, 0, 1, 3, 4, 5, 6]);
    expect(plan.tensors.map((t) => t.whole)).toEqual([false, false, true, true, true, true, true]);
    // Small matrices get no finalize_stats blocks: whole_tensor does theirs.
    expect(plan.groups[0]).toMatchObject({
      lineBlockCount: 5,
      factoredTensorCount: 1,
      wholeTensorCount: 5,
      tileCount: 4 + 2 + 5,
    });
    expect(plan.tensors[2].fields.firstLineBlock).toBe(5);
  });
});

describe('shapes', () => {
  it.each([[[-1, 3]], [[2.5]], [[NaN]], [[Infinity, 2]]])('rejects %j', (shape) => {
    expect(() => geometry(shape, "tensor 'w'")).toThrow(/tensor 'w': shape .* has an invalid dim/);
  });
  it('sees rank >= 2 as a batch of matrices', () => {
    expect(geometry([2, 3, 4, 5], 't')).toMatchObject({
      factored: true,
      batch: 6,
      rows: 4,
      cols: 5,
      numel: 120,
      rowStride: 5,
      colStride: 1,
      middle: 1,
      inner: 1,
    });
    expect(geometry([], 't')).toMatchObject({ factored: false, batch: 1, rows: 1, cols: 1, numel: 1 });
  });
  it("factors the two largest dims with factorDims 'largest2', the rest a batch around them", () => {
    const shape = [40, 3, 50, 2];
    const g = withFactoringRule(geometry(shape, 't'), shape, 'largest2', 0);
    expect(g).toMatchObject({
      rows: 40,
      cols: 50,
      batch: 6,
      rowDim: 0,
      colDim: 2,
      middle: 3,
      inner: 2,
      rowStride: 300,
      colStride: 2,
    });
    // Every element is one (matrix, row, col), and every (matrix, row, col) one element.
    const seen = new Set<number>();
    for (let m = 0; m < g.batch; m++)
      for (let r = 0; r < g.rows; r++) for (let c = 0; c < g.cols; c++) seen.add(elementIndex(g, m, r, c));
    expect(seen.size).toBe(g.numel);
    expect(Math.max(...seen)).toBe(g.numel - 1);
    // Ties go to the later dim, as numpy's argsort does for optax.
    expect(withFactoringRule(geometry([8, 8, 8], 't'), [8, 8, 8], 'largest2', 0)).toMatchObject({
      rowDim: 1,
      colDim: 2,
    });
    expect(withFactoringRule(geometry([8, 9], 't'), [8, 9], 'largest2', 10).factored).toBe(false);
  });
  it("factors a convolution kernel's dims 0 and 1 with factorDims 'conv', else the last two (timm's rule)", () => {
    const rule = (shape: number[], minDim = 0) => {
      const g = withFactoringRule(geometry(shape, 't'), shape, 'conv', minDim);
      return g.factored ? [g.rowDim, g.colDim] : null;
    };
    expect(rule([32, 16, 3, 3], 17)).toBeNull(); // 16 < 17 and the last two (3, 3) too
    expect(rule([32, 17, 3, 3], 17)).toEqual([0, 1]);
    expect(rule([32, 16, 20, 30], 17)).toEqual([2, 3]); // dims 0, 1 fail; the last two pass
    expect(rule([40, 50], 17)).toEqual([0, 1]); // rank 2: the last two
    expect(rule([4, 40, 50], 17)).toEqual([1, 2]);
    expect(rule([64], 0)).toBeNull();
    const g = withFactoringRule(geometry([6, 5, 3, 2], 't'), [6, 5, 3, 2], 'conv', 0);
    expect(g).toMatchObject({ rows: 6, cols: 5, batch: 6, rowDim: 0, colDim: 1, middle: 1, inner: 6 });
  });
  it('takes a function of the shape, sorting its two dims, and refuses what is not two dims of the shape', () => {
    const shape = [7, 3, 5];
    const calls: number[][] = [];
    const rule = (s: readonly number[]) => {
      calls.push([...s]);
      return [2, 0] as const;
    };
    const g = withFactoringRule(geometry(shape, 't'), shape, rule, 1000); // minDimSizeToFactor is the function's affair
    expect(g).toMatchObject({ factored: true, rowDim: 0, colDim: 2, rows: 7, cols: 5, batch: 3 });
    expect(calls).toEqual([[7, 3, 5]]);
    expect(withFactoringRule(geometry(shape, 't'), shape, () => null, 0).factored).toBe(false);
    // Vectors are never factored: the function is not asked.
    expect(withFactoringRule(geometry([9], 't'), [9], rule, 0).factored).toBe(false);
    expect(calls.length).toBe(1);
    for (const bad of [[0, 0], [0, 3], [-1, 1], [0.5, 1], [0], [0, 1, 2], '0,1', undefined, 7])
      expect(() => withFactoringRule(geometry(shape, 't'), shape, (() => bad) as never, 0, "tensor 'w'")).toThrow(
        /^tensor 'w': the factorDims function returned .* for shape \[7, 3, 5\]; it must return null or two different dims of the shape$/,
      );
  });
});

describe('the shaders', () => {
  it('every view of parameters (and of gradients) declares the same binding, and the host takes all others from interface.wgsl', async () => {
    const { readFileSync } = await import('node:fs');
    const { reflectShader } = await import('../../src/gpu/reflect.js');
    const read = (name: string) =>
      reflectShader(readFileSync(new URL(`../../shaders/${name}`, import.meta.url), 'utf8'));
    const strip = (b: { name: string; group: number; binding: number; kind: string }) => ({
      name: b.name,
      group: b.group,
      binding: b.binding,
      kind: b.kind,
    });
    for (const kind of ['param', 'grad']) {
      const views = ['f32x4', 'f32', 'f16', 'quads'].map((v) => read(`${kind}_${v}.wgsl`).bindings.map(strip));
      for (const view of views.slice(1)) expect(view).toEqual(views[0]);
      expect(views[0].map((b) => b.name)).toEqual([kind]);
    }
    // The momentum views: f32, and the 16-bit formats packed two to a word (the format files declare no binding).
    const momentum = ['momentum_f32', 'momentum_packed'].map((v) => read(`${v}.wgsl`).bindings.map(strip));
    expect(momentum[1]).toEqual(momentum[0]);
    expect(momentum[0].map((b) => [b.name, b.binding])).toEqual([['momentum', 6]]);
    for (const format of ['momentum_bf16', 'momentum_f16']) expect(read(`${format}.wgsl`).bindings).toEqual([]);
    const all = SHADER.bindings.map((b) => b.binding);
    expect(new Set(all).size).toBe(all.length);
    expect(SHADER.bindings.find((b) => b.name === 'param')!.elementSize).toBe(4);
  });
});
