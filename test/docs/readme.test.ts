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
  join(REPO_ROOT, 'CONTRIBUTING.md'),
  join(REPO_ROOT, 'CHANGELOG.md'),
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

    expect(quickStart).toContain('npm ci && npm run build && API_KEYS="$API_KEY" npm start');
    expect(quickStart).toContain('bash .ci/run');
    expect(quickStart).toContain('npm test');
    expect(Object.keys(scripts)).toEqual(expect.arrayContaining(['build', 'start', 'test']));
  });

  it('exports, in each quick-start shell, the API key its commands send, and the server accepts that key', () => {
    const blocks = [...section(readme, '## Quick start').matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map(
      (match) => match[1] ?? '',
    );
    const exported = (block: string) => /^export API_KEY=(\S+)/m.exec(block);

    const using = blocks.filter((block) => block.includes('$API_KEY'));

    expect(using.length).toBeGreaterThanOrEqual(2);
    for (const block of using) {
      const line = exported(block);
      expect(line, `an export API_KEY= line in:\n${block}`).not.toBeNull();
      expect(block.indexOf('$API_KEY')).toBeGreaterThan(line?.index ?? Number.POSITIVE_INFINITY);
    }
    expect(new Set(using.map((block) => exported(block)?.[1])).size).toBe(1);
    expect(using[0]).toContain('API_KEYS="$API_KEY" npm start');
    expect(using.slice(1).join('\n')).toContain('-H "x-api-key: $API_KEY"');
  });

  it('has one section on deploying, which links every deploying page and alone names the deployment files', () => {
    const headings = readme.match(/^## .+$/gm) ?? [];
    const deploying = section(readme, '## Deploying');
    const elsewhere = readme.replace(deploying, '').replace(section(readme, '## Development'), '');
    const pages = readdirSync(DOCS).filter((name) => name.startsWith('deploying-') && name.endsWith('.md'));

    expect(headings.filter((heading) => /deploy/i.test(heading))).toEqual(['## Deploying']);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    for (const page of pages) expect(deploying).toContain(`](docs/${page})`);
    expect(deploying).toContain('docker compose up');
    for (const mention of [
      'docker compose',
      'deploy/k8s',
      'deploy/sam',
      'deploy/cloudformation',
      'docs/deploying-on',
    ])
      expect(elsewhere, mention).not.toContain(mention);
  });

  it('credits an outside source only with a link to it', () => {
    const unlinked = readme
      .split('\n')
      .filter((line) => /tutorial/i.test(line) && !/\]\(https?:\/\//.test(line));

    expect(unlinked).toEqual([]);
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
    expect(section(readme, '## Additions to the contract')).toMatch(/^- Status \*\*422\*\*/m);
  });

  it('links every page of docs/', () => {
    const linked = new Set(relativeLinksOf(README).map((link) => link.target.split('#')[0]));

    for (const page of readdirSync(DOCS).filter((name) => name.endsWith('.md'))) {
      expect(linked, page).toContain(`docs/${page}`);
    }
  });
});

describe('README, SECURITY.md, CONTRIBUTING.md, CHANGELOG.md and docs/', () => {
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

  it('name only Markdown files that are part of the repository', () => {
    const outside: string[] = [];
    for (const file of markdownFiles) {
      for (const [, name = ''] of readFileSync(file, 'utf8').matchAll(/`([\w./-]+\.md)`/g)) {
        if (!existsSync(join(REPO_ROOT, name)) && !existsSync(join(dirname(file), name)))
          outside.push(`${relative(REPO_ROOT, file)}: ${name}`);
      }
    }

    expect(outside).toEqual([]);
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
