import { execFile } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/server-process.js';

/**
 * The package as npm users get it (issue 19): `npm pack` on a tree like a clean clone (no dist: the prepack script
 * builds it), the tarball installed into an empty project, then its command, its two entries at run time, and
 * its types under both module resolutions a TypeScript consumer uses (NodeNext and bundler).
 * The install reads the npm cache first (`--prefer-offline`; `npm ci` filled it) and the registry for the rest.
 */

const PACKAGE = 'genesys-eventbridge-dedup';
const TSC = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
const TYPES_NODE_VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, 'node_modules', '@types', 'node', 'package.json'), 'utf8')) as {
    version: string;
  }
).version;

/** What a clean clone does not hold: installed or built files, and git's own. */
const NOT_IN_A_CLONE = new Set(['node_modules', 'dist', 'coverage', '.git']);

/**
 * `npm test` exports its own run's settings (npm_config_local_prefix, npm_package_*, npm_lifecycle_*): a child npm
 * that inherits them acts on this project instead of its own folder. Kept: what reaches the registry.
 */
const NPM_SETTINGS_KEPT = new Set(
  [
    'cache',
    'registry',
    'userconfig',
    'globalconfig',
    'cafile',
    'proxy',
    'https_proxy',
    'noproxy',
    'strict_ssl',
  ].map((name) => `npm_config_${name}`),
);

function childEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !/^(npm_|init_cwd$)/i.test(name) || NPM_SETTINGS_KEPT.has(name.toLowerCase()),
    ),
  );
}

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd, env: childEnv(), maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

async function succeed(command: string, args: string[], cwd: string): Promise<string> {
  const result = await run(command, args, cwd);
  expect(result.code, `${command} ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(0);
  return result.stdout;
}

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(folder, join(entry.parentPath, entry.name)).split(sep).join('/'))
    .sort();
}

let work: string;
let source: string;
let consumer: string;
let installed: string;
let packedFiles: string[];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'ebdedup-pack-'));
  source = join(work, 'source');
  consumer = join(work, 'consumer');
  installed = join(consumer, 'node_modules', PACKAGE);

  // A clean clone: the project's files without dist, with the dev dependencies `npm ci` would install.
  cpSync(REPO_ROOT, source, {
    recursive: true,
    filter: (path) => {
      const top = relative(REPO_ROOT, path).split(sep)[0] ?? '';
      // Nor a local .env: its secrets have no business in a copy.
      return !NOT_IN_A_CLONE.has(top) && !top.startsWith('.env');
    },
  });
  symlinkSync(join(REPO_ROOT, 'node_modules'), join(source, 'node_modules'), 'dir');

  // With --json, npm sends the prepack script's output to stderr: stdout is the report alone.
  const report = JSON.parse(await succeed('npm', ['pack', '--json', '--pack-destination', work], source)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = join(work, report[0]?.filename ?? 'missing.tgz');
  packedFiles = (report[0]?.files ?? []).map((file) => file.path).sort();

  mkdirSync(consumer);
  writeFileSync(
    join(consumer, 'package.json'),
    JSON.stringify({ name: 'pack-consumer', version: '1.0.0', private: true, type: 'module' }),
  );
  // @types/node as any TypeScript project on Node has it: the package's declarations name Node's types.
  await succeed(
    'npm',
    ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball, `@types/node@${TYPES_NODE_VERSION}`],
    consumer,
  );
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('npm pack, installed into an empty project', () => {
  it('holds the build (made by prepack), the Lua scripts, the samples and the legal files, and no sources or tests', () => {
    const luaScripts = readdirSync(join(REPO_ROOT, 'src', 'store', 'redis', 'scripts')).filter((name) =>
      name.endsWith('.lua'),
    );
    const samples = readdirSync(join(REPO_ROOT, 'samples'));

    expect(packedFiles).toEqual(filesUnder(installed));
    expect(packedFiles).toEqual(
      expect.arrayContaining([
        'LICENSE',
        'README.md',
        'CHANGELOG.md',
        'package.json',
        'dist/index.js',
        'dist/index.d.ts',
        'dist/adapters/lambda.js',
        'dist/adapters/lambda.d.ts',
        'dist/cli/index.js',
        'dist/main.js',
        'dist/openapi.yaml',
        ...luaScripts.map((name) => `dist/store/redis/scripts/${name}`),
        ...samples.map((name) => `samples/${name}`),
      ]),
    );
    expect(packedFiles.filter((path) => !/^(dist|samples)\//.test(path))).toEqual([
      'CHANGELOG.md',
      'LICENSE',
      'README.md',
      'package.json',
    ]);
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License\n\nCopyright \(c\) 2026 /);
  });

  it('names in main, types, exports and bin only files it holds, each export with its types first', () => {
    const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as {
      license: string;
      main?: string;
      types?: string;
      bin: Record<string, string>;
      exports: Record<string, string | Record<string, string>>;
    };
    const targets = [
      manifest.main,
      manifest.types,
      ...Object.values(manifest.bin),
      ...Object.values(manifest.exports).flatMap((target) =>
        typeof target === 'string' ? [target] : Object.values(target),
      ),
    ];

    expect(manifest.license).toBe('MIT');
    expect(
      targets.filter((target) => typeof target !== 'string' || !existsSync(join(installed, target))),
    ).toEqual([]);
    for (const entry of ['.', './lambda']) {
      const conditions = manifest.exports[entry];
      expect(typeof conditions === 'object' ? Object.keys(conditions) : conditions, entry).toEqual([
        'types',
        'default',
      ]);
    }
  });

  it('ships source maps that carry the TypeScript they map, since src is not shipped', () => {
    const maps = filesUnder(installed).filter((path) => path.endsWith('.js.map'));
    const wrong: string[] = [];
    for (const path of maps) {
      const map = JSON.parse(readFileSync(join(installed, path), 'utf8')) as {
        sources: string[];
        sourcesContent?: (string | null)[];
      };
      map.sources.forEach((sourcePath, index) => {
        // The source as the map names it, relative to the map, in the tree the package was built from.
        const original = readFileSync(join(source, dirname(path), sourcePath), 'utf8');
        if (map.sourcesContent?.[index] !== original) wrong.push(`${path}: ${sourcePath}`);
      });
    }

    expect(maps.length).toBeGreaterThan(10);
    expect(wrong).toEqual([]);
  });

  it('gives a working ebdedup command', async () => {
    const bin = join(consumer, 'node_modules', '.bin', 'ebdedup');

    const help = await run(bin, ['--help'], consumer);
    const version = await run(bin, ['--version'], consumer);

    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toMatch(/^Usage: ebdedup COMMAND \[options\]\n/);
    expect(help.stdout).toContain('replay');
    expect(version.stdout.trim()).toBe(
      (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('imports both entries at run time, and resolves the OpenAPI description', async () => {
    writeFileSync(
      join(consumer, 'run.mjs'),
      [
        `import { readFileSync } from 'node:fs';`,
        `import { fileURLToPath } from 'node:url';`,
        `import { InvalidEventError, buildApp, parseConfig } from '${PACKAGE}';`,
        `import { handler } from '${PACKAGE}/lambda';`,
        `const openapi = readFileSync(fileURLToPath(import.meta.resolve('${PACKAGE}/openapi.yaml')), 'utf8');`,
        'console.log(JSON.stringify({',
        `  port: parseConfig({ AUTH_MODE: 'none' }).PORT,`,
        `  status: new InvalidEventError([]).statusCode,`,
        '  buildApp: typeof buildApp,',
        '  handler: typeof handler,',
        '  openapi,',
        '}));',
      ].join('\n'),
    );

    const output = JSON.parse(await succeed(process.execPath, ['run.mjs'], consumer)) as Record<
      string,
      unknown
    >;

    expect(output).toEqual({
      port: 3000,
      status: 400,
      buildApp: 'function',
      handler: 'function',
      openapi: readFileSync(join(REPO_ROOT, 'openapi.yaml'), 'utf8'),
    });
  });

  describe('type-checks a strict consumer of both entries', () => {
    beforeAll(() => {
      mkdirSync(join(consumer, 'src'), { recursive: true });
      writeFileSync(
        join(consumer, 'src', 'consumer.ts'),
        [
          `import { type Config, InvalidEventError, parseConfig } from '${PACKAGE}';`,
          `import { handler, type LambdaResult } from '${PACKAGE}/lambda';`,
          '',
          `const config: Config = parseConfig({ AUTH_MODE: 'none' });`,
          'export const port: number = config.PORT;',
          `export const status: 400 = new InvalidEventError([{ path: 'id', message: 'is required' }]).statusCode;`,
          'export const result: Promise<LambdaResult> = handler({});',
          // Were the imports untyped (any), these expected errors would be missing, and that is an error too.
          '// @ts-expect-error PORT is a number',
          'export const wrongPort: string = config.PORT;',
          '// @ts-expect-error the handler resolves a LambdaResult',
          'export const wrongResult: Promise<string> = handler({});',
        ].join('\n'),
      );
      // Every module the package's declarations import must have types in the consumer's project too: here a
      // missing one is an error in the consumer's own file, which skipLibCheck does not hide.
      const imported = new Set<string>();
      for (const path of filesUnder(join(installed, 'dist')).filter((file) => file.endsWith('.d.ts'))) {
        const text = readFileSync(join(installed, 'dist', path), 'utf8');
        for (const match of text.matchAll(/(?:from|import\()\s*['"]([^'"]+)['"]/g)) {
          if (!match[1]?.startsWith('.')) imported.add(match[1] as string);
        }
      }
      expect(imported).toContain('fastify');
      writeFileSync(
        join(consumer, 'src', 'declared-imports.ts'),
        [...imported].map((specifier) => `import type {} from '${specifier}';`).join('\n'),
      );
    });

    it.each([
      ['NodeNext', 'NodeNext'],
      ['bundler', 'ESNext'],
    ])(
      'with moduleResolution %s',
      async (moduleResolution, module) => {
        const config = `tsconfig.${moduleResolution}.json`;
        writeFileSync(
          join(consumer, config),
          JSON.stringify({
            compilerOptions: {
              target: 'ES2023',
              lib: ['ES2023'],
              module,
              moduleResolution,
              strict: true,
              noEmit: true,
              types: ['node'],
              // ioredis's own declarations import an untyped module (redis-errors): a strict consumer needs
              // skipLibCheck, as most projects have. The package's declarations are held by declared-imports.ts.
              skipLibCheck: true,
            },
            include: ['src'],
          }),
        );

        const result = await run(process.execPath, [TSC, '-p', config], consumer);

        expect(result.stdout + result.stderr).toBe('');
        expect(result.code).toBe(0);
      },
      120_000,
    );
  });
});
