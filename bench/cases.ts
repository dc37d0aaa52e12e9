/** The benchmark's cases: tensor shapes that share one parameter buffer and one gradient buffer. */

export interface BenchCase {
  name: string;
  shapes: number[][];
}

/** Tensor shapes of a small GPT-style model: embeddings, then per layer two layer norms, attention and MLP. */
function transformerShapes(vocab: number, context: number, width: number, layers: number): number[][] {
  const shapes: number[][] = [
    [vocab, width],
    [context, width],
  ];
  for (let l = 0; l < layers; l++) {
    shapes.push([width], [width]); // ln_1
    shapes.push([width, 3 * width], [3 * width]); // attention qkv
    shapes.push([width, width], [width]); // attention projection
    shapes.push([width], [width]); // ln_2
    shapes.push([width, 4 * width], [4 * width]); // mlp up
    shapes.push([4 * width, width], [width]); // mlp down
  }
  shapes.push([width], [width]); // ln_f
  return shapes;
}

export const CASES: BenchCase[] = [
  { name: 'large-matrix', shapes: [[4096, 4096]] },
  { name: 'transformer', shapes: transformerShapes(6144, 256, 256, 4) },
  {
    name: 'many-small',
    shapes: [...Array.from({ length: 500 }, () => [64, 64]), ...Array.from({ length: 500 }, () => [64])],
  },
];

/** Cases run only when named (`--case`): GPT-2 small's 124M parameters in 148 tensors, for GPUs. */
export const LARGE_CASES: BenchCase[] = [{ name: 'gpt2-small', shapes: transformerShapes(50257, 1024, 768, 12) }];

export const numel = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
