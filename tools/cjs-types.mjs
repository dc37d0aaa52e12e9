// After the declarations are built (dist/types/, ES modules): the same declarations as CommonJS
// (.d.cts beside each .d.ts, relative imports pointing at .cjs), which the package's "require"
// condition names, for TypeScript projects that compile to CommonJS under module node16 or
// nodenext and `require` the package (Node 20.19 and later load its ES modules with require).
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function declarations(folder) {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const path = join(folder, entry.name);
    if (entry.isDirectory()) return declarations(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

for (const file of declarations('dist/types')) {
  const text = readFileSync(file, 'utf8').replace(/(from\s+|import\()(['"])(\.{1,2}\/[^'"]+)\.js\2/g, '$1$2$3.cjs$2');
  writeFileSync(file.replace(/\.d\.ts$/, '.d.cts'), text);
}
