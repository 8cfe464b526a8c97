import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * The README is what a newcomer reads first: short, with the two commands that set up and run everything, and a
 * link to every page of docs/. The pages moved out of it keep working links: every relative link and anchor of the
 * README and docs/ resolves, and every repository path they name in backticks exists.
 */

const README = join(REPO_ROOT, 'README.md');
const DOCS = join(REPO_ROOT, 'docs');

const markdownFiles = [
  README,
  join(REPO_ROOT, 'SECURITY.md'),
  ...readdirSync(DOCS).map((name) => join(DOCS, name)),
].filter((file) => file.endsWith('.md'));

/** Prose only: code blocks hold commands and sample output, not links. */
function withoutCodeBlocks(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '');
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchorsOf(file: string): Set<string> {
  const headings = withoutCodeBlocks(readFileSync(file, 'utf8')).match(/^#{1,6} .+$/gm) ?? [];
  return new Set(
    headings.map((heading) =>
      heading
        .replace(/^#+ /, '')
        .toLowerCase()
        .replace(/[^\p{L}\p{N} _-]/gu, '')
        .replace(/ /g, '-'),
    ),
  );
}

type Link = { from: string; target: string };

function relativeLinksOf(file: string): Link[] {
  const prose = withoutCodeBlocks(readFileSync(file, 'utf8'));
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((match) => match[1] ?? '')
    .filter((target) => !/^[a-z]+:/.test(target))
    .map((target) => ({ from: relative(REPO_ROOT, file), target }));
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `README section ${heading}`).toBeGreaterThanOrEqual(0);
  const end = markdown.indexOf('\n## ', start + heading.length + 2);
  return markdown.slice(start, end === -1 ? undefined : end);
}

describe('README', () => {
  const readme = readFileSync(README, 'utf8');

  it('stays within 300 lines', () => {
    expect(readme.trimEnd().split('\n').length).toBeLessThanOrEqual(300);
  });

  it('gives one command that runs the server and one that runs every test, both backed by package.json', () => {
    const quickStart = section(readme, '## Quick start');
    const scripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: object })
      .scripts;

    expect(quickStart).toContain('npm ci && npm run build && npm start');
    expect(quickStart).toContain('docker compose up');
    expect(quickStart).toContain('npm test');
    expect(Object.keys(scripts)).toEqual(expect.arrayContaining(['build', 'start', 'test']));
    expect(existsSync(join(REPO_ROOT, 'docker-compose.yml'))).toBe(true);
  });

  it('keeps the development commands, the rule for hand-written replacements and the contract additions', () => {
    const development = section(readme, '## Development');

    for (const command of ['dev', 'build', 'typecheck', 'lint', 'bench'].map(
      (script) => `npm run ${script}`,
    )) {
      expect(development).toContain(`\`${command}\``);
    }
    expect(development).toContain('`npm test`');
    expect(development).toMatch(/saves at least 5 % of a request's CPU[^\n]*\n[^\n]*measured figure:\n- /);
    // Each kept replacement is listed with its figure, and its file states the measurement too.
    const kept = [...development.matchAll(/^- [^\n]*\]\((src\/[^)]+)\)\)?: [^\n]*%/gm)].map(
      (match) => match[1],
    );
    expect(kept.length).toBeGreaterThanOrEqual(2);
    for (const file of kept)
      expect(readFileSync(join(REPO_ROOT, file as string), 'utf8')).toMatch(/5 % of a request's CPU/);
    expect(section(readme, '## Additions to the contract')).toContain('CONTRACT.md');
  });

  it('links every page of docs/', () => {
    const linked = new Set(relativeLinksOf(README).map((link) => link.target.split('#')[0]));

    for (const page of readdirSync(DOCS).filter((name) => name.endsWith('.md'))) {
      expect(linked, page).toContain(`docs/${page}`);
    }
  });
});

describe('README, SECURITY.md and docs/', () => {
  it('have relative links that reach an existing file and heading', () => {
    const broken: string[] = [];
    for (const file of markdownFiles) {
      for (const { from, target } of relativeLinksOf(file)) {
        const [path = '', anchor] = target.split('#');
        const resolved = path === '' ? file : join(dirname(file), path);
        if (!existsSync(resolved)) {
          broken.push(`${from}: ${target}`);
          continue;
        }
        if (anchor !== undefined && !anchorsOf(resolved).has(anchor))
          broken.push(`${from}: ${target} (no heading)`);
      }
    }

    expect(broken).toEqual([]);
  });

  it('name only repository paths that exist', () => {
    const missing: string[] = [];
    for (const file of markdownFiles) {
      const named = readFileSync(file, 'utf8').matchAll(
        /`((?:bench|deploy|samples|scripts|src|test)\/[^`\s<>]+)`/g,
      );
      for (const [, path = ''] of named) {
        if (!existsSync(join(REPO_ROOT, path))) missing.push(`${relative(REPO_ROOT, file)}: ${path}`);
      }
    }

    expect(missing).toEqual([]);
  });
});
