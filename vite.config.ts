import { resolve } from 'node:path';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  build: {
    lib: {
      entry: resolve(import.meta.dirname, 'src/index.ts'),
      formats: ['es'],
      fileName: 'webgpu-adafactor',
    },
    target: 'es2022',
    sourcemap: true,
    outDir: 'dist',
  },
  test: {
    projects: [
      {
        extends: true,
        test: { name: 'cpu', include: ['test/cpu/**/*.test.ts'] },
      },
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/node/**/*.test.ts'],
          // Dawn on lavapipe already uses every core; one GPU test file at a time.
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
