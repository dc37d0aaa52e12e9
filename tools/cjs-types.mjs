// After the declarations are built (dist/types/, ES modules): a CommonJS declaration beside each
// entry's, for TypeScript projects that compile to CommonJS under module node16 or nodenext and
// `require` the package (Node 20.19 and later load its ES modules with require). Each re-exports
// the entry's ES declarations.
import { writeFileSync } from 'node:fs';

for (const entry of ['dist/types/index', 'dist/types/tfjs/index']) {
  writeFileSync(`${entry}.d.cts`, "export * from './index.js';\n");
}
