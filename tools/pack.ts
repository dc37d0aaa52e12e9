/**
 * The package as `npm pack` makes it, for the tests that install it as a user would: packed from a
 * copy of the repository's files (its prepack script builds dist/ there first), so that it never
 * races another suite's build of dist/ in the repository.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Packs the repository at `repo` into `folder` (using `folder`/source as the copy); returns the tarball's path. */
export function packInto(repo: string, folder: string): string {
  const source = join(folder, 'source');
  const files = execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], {
    cwd: repo,
    encoding: 'utf8',
  })
    .split('\0')
    .filter(Boolean);
  for (const file of files.filter((f) => existsSync(join(repo, f)))) cpSync(join(repo, file), join(source, file));
  symlinkSync(join(repo, 'node_modules'), join(source, 'node_modules'));
  execFileSync('npm', ['run', 'prepack'], { cwd: source, stdio: 'ignore' });
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', folder], {
      cwd: source,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    }),
  );
  return join(folder, packed[0].filename);
}

/** The version of a package the repository installed, so that a fresh folder gets the same one. */
export function installedVersion(repo: string, name: string): string {
  return JSON.parse(readFileSync(join(repo, 'node_modules', name, 'package.json'), 'utf8')).version;
}
