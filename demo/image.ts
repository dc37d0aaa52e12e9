/** The demo's data: a target image drawn in the page, and Fourier features of pixel coordinates. */

export const IMAGE_SIZE = 64;
export const FREQUENCIES = 32;
export const FEATURES = 2 * FREQUENCIES;

/** Deterministic uniform numbers in [0, 1) (mulberry32), so both models start from the same weights. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
}

/** RGB in [0, 1], row-major [IMAGE_SIZE * IMAGE_SIZE, 3]: a drawing with edges, curves and text. */
export function targetImage(): Float32Array<ArrayBuffer> {
  const canvas = new OffscreenCanvas(IMAGE_SIZE, IMAGE_SIZE);
  const g = canvas.getContext('2d')!;
  const s = IMAGE_SIZE;
  const sky = g.createLinearGradient(0, 0, s, s);
  sky.addColorStop(0, '#1d3557');
  sky.addColorStop(1, '#e76f51');
  g.fillStyle = sky;
  g.fillRect(0, 0, s, s);
  g.fillStyle = '#f4d35e';
  g.beginPath();
  g.arc(s * 0.72, s * 0.3, s * 0.16, 0, 2 * Math.PI);
  g.fill();
  g.fillStyle = '#2a9d8f';
  g.beginPath();
  g.moveTo(0, s);
  g.lineTo(s * 0.35, s * 0.5);
  g.lineTo(s * 0.7, s);
  g.fill();
  g.fillStyle = '#ffffff';
  g.font = `bold ${Math.round(s * 0.28)}px sans-serif`;
  g.fillText('Ada', s * 0.06, s * 0.36);
  const rgba = g.getImageData(0, 0, s, s).data;
  const rgb = new Float32Array(s * s * 3);
  for (let p = 0; p < s * s; p++) for (let c = 0; c < 3; c++) rgb[p * 3 + c] = rgba[p * 4 + c] / 255;
  return rgb;
}

/** [sin(2 pi B v), cos(2 pi B v)] for each pixel's coordinates v in [-1, 1]^2 (Tancik et al. 2020). */
export function fourierFeatures(seed = 1, scale = 2): Float32Array<ArrayBuffer> {
  const rand = random(seed);
  const frequencies = Array.from({ length: FREQUENCIES }, () => [normal(rand) * scale, normal(rand) * scale]);
  const out = new Float32Array(IMAGE_SIZE * IMAGE_SIZE * FEATURES);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const u = (2 * x) / (IMAGE_SIZE - 1) - 1;
      const v = (2 * y) / (IMAGE_SIZE - 1) - 1;
      const base = (y * IMAGE_SIZE + x) * FEATURES;
      frequencies.forEach(([a, b], f) => {
        const phase = 2 * Math.PI * (a * u + b * v);
        out[base + f] = Math.sin(phase);
        out[base + FREQUENCIES + f] = Math.cos(phase);
      });
    }
  }
  return out;
}
