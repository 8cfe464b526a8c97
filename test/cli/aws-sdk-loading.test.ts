import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type FakeEventBridge,
  startEventBridge,
  TEST_KEYS,
  TEST_REGION,
} from './helpers/fake-eventbridge.js';
import { type StandIn, sendJson, startStandIn } from './helpers/http-server.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const BIN = path.join(REPO, 'dist', 'cli', 'index.js');
const run = promisify(execFile);

/** Every .ts file under src/, relative to the repository. */
function sourceFiles(folder = path.join(REPO, 'src')): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return entry.name.endsWith('.ts') ? [path.relative(REPO, full)] : [];
  });
}

describe('the AWS SDK is loaded by the signing commands only', () => {
  it('is imported nowhere in src/ but by a dynamic import() in src/cli/credentials.ts', () => {
    // Arrange
    const mentions: string[] = [];

    // Act
    for (const file of sourceFiles()) {
      const text = readFileSync(path.join(REPO, file), 'utf8');
      for (const match of text.matchAll(/(import\s*\(\s*|from\s+)'(@aws-sdk\/[^']+|@smithy\/[^']+)'/g)) {
        mentions.push(`${file}: ${match[1]?.startsWith('import') ? 'import()' : 'static'} ${match[2]}`);
      }
    }

    // Assert: put-events and redrive reach credentials.ts; replay, consume and the server never call into it.
    expect(mentions.sort()).toEqual([
      'src/cli/credentials.ts: import() @aws-sdk/credential-providers',
      'src/cli/credentials.ts: import() @smithy/core/config',
    ]);
  });
});

// `npm test` builds first; run alone, this needs `npm run build`.
describe.skipIf(!existsSync(BIN))('the built ebdedup bin and the AWS SDK', () => {
  let dir = '';
  let receiver: StandIn | undefined;
  let bus: FakeEventBridge | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'ebdedup-sdk-'));
    // Reports, as the process exits, how many of the SDK's modules it loaded (they are CommonJS).
    await writeFile(
      path.join(dir, 'count-sdk.cjs'),
      `process.on('exit', () => {
  const sdk = Object.keys(require.cache).filter((file) => file.includes('/node_modules/@aws-sdk/'));
  process.stderr.write('aws-sdk-modules=' + sdk.length + '\\n');
});
`,
    );
  });

  afterEach(async () => {
    await Promise.all([receiver?.close(), bus?.close()]);
    [receiver, bus] = [undefined, undefined];
    await rm(dir, { recursive: true, force: true });
  });

  /** Runs the bin with `env` as its whole environment (HOME is the test's folder, instance metadata off). */
  function ebdedup(args: string[], env: Record<string, string>) {
    return run(process.execPath, ['--require', path.join(dir, 'count-sdk.cjs'), BIN, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_EC2_METADATA_DISABLED: 'true', ...env },
      timeout: 20_000,
    });
  }

  it('replay does not load it', async () => {
    receiver = await startStandIn((_request, response) => sendJson(response, 200, { status: 'processed' }));

    const { stdout, stderr } = await ebdedup(
      ['replay', 'samples', '--url', `${receiver.origin}/events`, '--quiet'],
      {},
    );

    expect(stdout).toContain('5 deliveries of 5 events');
    expect(stderr).toBe('aws-sdk-modules=0\n');
  });

  it('put-events signs through the chain from the process environment: a credential_process profile', async () => {
    // Arrange: the profile and its files come from the real environment (the bin passes process.env).
    bus = await startEventBridge();
    const script = path.join(dir, 'print-credentials.mjs');
    await writeFile(
      script,
      `console.log(JSON.stringify({ Version: 1, AccessKeyId: 'AKIDPROCESS', SecretAccessKey: ${JSON.stringify(TEST_KEYS.AKIDPROCESS)}, SessionToken: 'process-token' }));\n`,
    );
    await writeFile(
      path.join(dir, 'config'),
      `[profile ops]\nregion = ${TEST_REGION}\ncredential_process = "${process.execPath}" "${script}"\n`,
    );

    // Act
    const { stdout, stderr } = await ebdedup(
      ['put-events', 'samples', '--bus', 'b', '--endpoint', bus.origin, '--quiet'],
      { AWS_PROFILE: 'ops', AWS_CONFIG_FILE: path.join(dir, 'config') },
    );

    // Assert
    expect(bus.problems).toEqual([]);
    expect(bus.requests[0]?.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDPROCESS\//);
    expect(bus.requests[0]?.headers['x-amz-security-token']).toBe('process-token');
    expect(stdout).toContain('5 accepted, 0 failed');
    expect(stderr).toMatch(/aws-sdk-modules=[1-9]\d*\n$/);
    expect(stdout + stderr).not.toContain(TEST_KEYS.AKIDPROCESS);
  });
});
