// The front door and the manual: the README stays short, and every relative link in it, in
// docs/ and in CONTRIBUTING.md leads to a file or folder of the repository.
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = resolve(import.meta.dirname, '../..');
const pages = [
  'README.md',
  'CONTRIBUTING.md',
  ...readdirSync(join(repo, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** The link targets of a markdown page: [text](target), ![alt](target) and <img src="target">, outside code blocks. */
function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```/gm, '');
  const inline = [...prose.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]);
  const images = [...prose.matchAll(/<img[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
  return [...inline, ...images];
}

describe('the docs', () => {
  it('the README is a front door: at most 250 lines', () => {
    expect(readFileSync(join(repo, 'README.md'), 'utf8').split('\n').length).toBeLessThanOrEqual(250);
  });

  for (const page of pages) {
    it(`every relative link of ${page} resolves`, () => {
      const targets = links(readFileSync(join(repo, page), 'utf8')).filter(
        (t) => !/^[a-z]+:/i.test(t) && !t.startsWith('#'),
      );
      expect(targets.length).toBeGreaterThan(0);
      const broken = targets.filter(
        (t) => !existsSync(resolve(dirname(join(repo, page)), decodeURIComponent(t.split('#')[0]))),
      );
      expect(broken.map((t) => `${page}: ${t} (${relative(repo, resolve(dirname(join(repo, page)), t))})`)).toEqual([]);
    });
  }
});
