import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { BenchOptions } from './args.js';
import { loadTemplates } from './bodies.js';
import { runLoad } from './load.js';
import { pinSelf, REPO_ROOT } from './procs.js';
import { type CpuProfile, inclusiveTimes, summariseProfile, timeTable } from './profile.js';
import { API_KEY, bodySource, EVENTS_PATH, type Receiver, startReceiver } from './receiver.js';

/**
 * `npm run bench -- --profile`: the built receiver under `node --cpu-prof`, first with unique events, then (a
 * second process on the same Redis) with retries of exactly those events, and where each spent its CPU.
 */

const out = (text = '') => process.stdout.write(`${text}\n`);

/** Inclusive time of the parts the receiver could change (matched against `name file:line`). */
export const INCLUSIVE: readonly { label: string; pattern: RegExp }[] = [
  { label: 'validateEvent (envelope + Genesys schema)', pattern: /^validateEvent / },
  { label: 'zod (all of it)', pattern: /node_modules\/zod\// },
  { label: 'contentKey (view, canonical JSON, SHA-256)', pattern: /^contentKey / },
  {
    label: 'canonical JSON (canonicalize, dist/events/canonical.js and omit-paths.js)',
    pattern: /node_modules\/canonicalize\/|dist\/events\/(canonical|omit-paths)\.js/,
  },
  { label: 'sha256Base64Url', pattern: /^sha256Base64Url / },
  { label: 'RedisStore.claimKey (until the command is queued)', pattern: /^claimKey / },
  { label: 'RedisStore.completeClaim', pattern: /^completeClaim / },
  { label: 'ioredis (all of it)', pattern: /node_modules\/ioredis\// },
  { label: 'socket writes (writev, writeUtf8String)', pattern: /^(writev|writeUtf8String|writeBuffer)\b/ },
  { label: 'pino', pattern: /node_modules\/pino\// },
  {
    label: 'dist/http/app.js: its hooks and body parser, and all that runs synchronously after them',
    pattern: /dist\/http\/app\.js/,
  },
  { label: 'dist/http/auth.js (API key check)', pattern: /dist\/http\/auth\.js/ },
  { label: 'dist/core/pipeline.js (all of handle)', pattern: /dist\/core\/pipeline\.js/ },
  { label: 'sinks (dist/sinks/*)', pattern: /dist\/sinks\// },
  {
    label: 'fastify content-type-parser: body parsing and all that runs synchronously after it',
    pattern: /fastify\/lib\/content-type-parser\.js/,
  },
  { label: 'secure-json-parse', pattern: /node_modules\/secure-json-parse\// },
  { label: 'response serialisation (fast-json-stringify)', pattern: /node_modules\/fast-json-stringify\// },
  { label: 'fastify reply.js (send, headers, serialise)', pattern: /fastify\/lib\/reply\.js/ },
  { label: 'fastify hooks.js (every hook and what it calls)', pattern: /fastify\/lib\/hooks\.js/ },
  { label: 'AbortController per request', pattern: /^(AbortController|createAbortSignal) / },
];

async function profileOne(
  label: string,
  receiver: Receiver,
  options: BenchOptions,
  nextBody: () => string,
  dir: string,
): Promise<{ label: string; rps: number; requests: number; non2xx: number; profile: CpuProfile }> {
  const result = await runLoad({
    url: receiver.server.url,
    path: EVENTS_PATH,
    apiKey: API_KEY,
    connections: options.connections,
    durationS: options.durationS,
    nextBody,
  });
  await receiver.server.stop();
  const file = readdirSync(dir).find((name) => name.endsWith('.cpuprofile'));
  if (!file) throw new Error(`${label}: no .cpuprofile in ${dir} (did the receiver exit cleanly?)`);
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  out(
    `  ${label}: ${result.rps.toFixed(0)} req/s under the profiler, ${result.non2xx} non-2xx, ${join(dir, file)}`,
  );
  return { label, rps: result.rps, requests: result.requests, non2xx: result.non2xx, profile };
}

export async function runProfile(options: BenchOptions): Promise<number> {
  pinSelf(options.loadCpu);
  const sink = options.sinks[0] ?? 'log';
  const templates = loadTemplates(join(REPO_ROOT, 'samples'), options.bodyFormat);
  const work = mkdtempSync(join(tmpdir(), 'ebdedup-profile-'));
  const uniqueDir = join(work, 'unique');
  const duplicateDir = join(work, 'duplicate');
  out(
    `profiling the receiver (${sink} sink), ${options.durationS} s per load, ${options.connections} connections`,
  );

  const first = await startReceiver(sink, options, templates, ['--cpu-prof', '--cpu-prof-dir', uniqueDir]);
  const sections: string[] = [];
  try {
    const unique = await profileOne('unique', first, options, bodySource(first, 'unique', 0), uniqueDir);
    // The second process replays what the first one processed: every request is a retry (duplicate).
    const second = await startReceiver(
      sink,
      options,
      templates,
      ['--cpu-prof', '--cpu-prof-dir', duplicateDir],
      first.redis,
    );
    second.pool = first.unique;
    second.poolSize = Math.max(1, first.uniqueNext - 2 * options.connections);
    const duplicate = await profileOne(
      'duplicate',
      second,
      options,
      bodySource(second, 'duplicate', 0),
      duplicateDir,
    );

    for (const run of [unique, duplicate]) {
      const summary = summariseProfile(run.profile);
      const perRequestUs = (summary.busyMs * 1000) / Math.max(run.requests, 1);
      sections.push(
        [
          `## ${run.label} (${run.rps.toFixed(0)} req/s under the profiler, ${run.requests} requests, ${run.non2xx} non-2xx)`,
          '',
          `busy ${summary.busyMs.toFixed(0)} ms of ${summary.totalMs.toFixed(0)} ms sampled ` +
            `(idle ${((summary.idleMs / summary.totalMs) * 100).toFixed(1)} %), ≈ ${perRequestUs.toFixed(0)} µs CPU per request`,
          '',
          '### Self time by package / area',
          '',
          timeTable(summary.groups, 25, false, 'package / area'),
          '',
          '### Top self-time functions',
          '',
          timeTable(summary.functions, 30, true),
          '',
          '### Inclusive time of the parts the receiver controls',
          '',
          'Inclusive: self time plus everything called from it. Fastify continues a request from inside the callback that finishes the step before (body parser → hooks → handler), so a frame early in the chain includes the rest of the request; compare parts of one path, not across paths.',
          '',
          timeTable(inclusiveTimes(run.profile, INCLUSIVE), INCLUSIVE.length, false, 'frames matching'),
          '',
        ].join('\n'),
      );
    }
  } finally {
    await first.server.stop();
    await first.redis.stop();
  }
  const report = `# Receiver CPU profile (${new Date().toISOString().slice(0, 10)})\n\n${sections.join('\n')}`;
  out(`\n${report}`);
  if (options.write) {
    const path = resolve(
      REPO_ROOT,
      options.out ?? `bench/results/profile-${new Date().toISOString().slice(0, 10)}.md`,
    );
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, report);
    out(`wrote ${path}`);
  }
  if (process.env.BENCH_KEEP_PROFILES !== '1') rmSync(work, { recursive: true, force: true });
  else out(`kept the .cpuprofile files in ${work}`);
  return 0;
}
