import { describe, expect, it } from 'vitest';
import {
  type CpuProfile,
  frameName,
  groupOf,
  inclusiveTimes,
  shortUrl,
  summariseProfile,
  timeTable,
} from '../../bench/lib/profile.js';

const frame = (functionName: string, url: string, lineNumber = 0) => ({
  functionName,
  url,
  lineNumber,
  columnNumber: 0,
});

/**
 * root → handler (dist) → validateEvent (dist) → parse (zod)
 *                       → canonicalize (node_modules/canonicalize)
 *      → (idle), (garbage collector)
 * Samples 1 ms apart.
 */
const profile: CpuProfile = {
  nodes: [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 6, 7] },
    { id: 2, callFrame: frame('handler', 'file:///repo/dist/http/routes/events.js', 9), children: [3, 5] },
    { id: 3, callFrame: frame('validateEvent', 'file:///repo/dist/events/envelope.js', 41), children: [4] },
    { id: 4, callFrame: frame('parse', 'file:///repo/node_modules/zod/v4/core/parse.js', 1) },
    {
      id: 5,
      callFrame: frame('canonicalize', 'file:///repo/node_modules/canonicalize/lib/canonicalize.js', 2),
    },
    { id: 6, callFrame: frame('(idle)', '') },
    { id: 7, callFrame: frame('(garbage collector)', '') },
  ],
  startTime: 0,
  endTime: 10_000,
  // zod ×3, validateEvent ×1, canonicalize ×2, idle ×2, gc ×1, handler ×1
  samples: [4, 4, 4, 3, 5, 5, 6, 6, 7, 2],
  timeDeltas: [0, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
};

describe('cpuprofile summary', () => {
  it('names frames and groups them by package or area', () => {
    expect(shortUrl('file:///a/b/node_modules/.pnpm/x/node_modules/zod/v4/x.js')).toBe(
      'node_modules/zod/v4/x.js',
    );
    expect(shortUrl('file:///repo/dist/core/pipeline.js')).toBe('dist/core/pipeline.js');
    expect(groupOf(frame('x', 'file:///r/node_modules/@fastify/helmet/index.js'))).toBe('@fastify/helmet');
    expect(groupOf(frame('x', 'file:///r/node_modules/pino/lib/proto.js'))).toBe('pino');
    expect(groupOf(frame('x', 'node:internal/http/server'))).toBe('node:http');
    expect(groupOf(frame('x', 'node:_http_server'))).toBe('node:_http_server');
    expect(groupOf(frame('parse', ''))).toBe('V8 builtins / native');
    expect(groupOf(frame('(garbage collector)', ''))).toBe('(garbage collector)');
    expect(groupOf(frame('x', 'file:///repo/dist/events/keys.js'))).toBe('receiver: dist/events/keys.js');
    expect(frameName(frame('', 'file:///repo/dist/a.js', 4))).toBe('(anonymous) dist/a.js:5');
  });

  it('adds up self time per function and per group, idle left out of the busy time', () => {
    const summary = summariseProfile(profile);
    expect(summary.totalMs).toBeCloseTo(10);
    expect(summary.idleMs).toBeCloseTo(2);
    expect(summary.busyMs).toBeCloseTo(8);
    expect(summary.functions[0]).toMatchObject({
      name: 'parse node_modules/zod/v4/core/parse.js:2',
      group: 'zod',
    });
    expect(summary.functions[0]?.ms).toBeCloseTo(3);
    expect(summary.functions[0]?.pct).toBeCloseTo(37.5);
    const groups = Object.fromEntries(summary.groups.map((g) => [g.name, g.ms]));
    expect(groups.zod).toBeCloseTo(3);
    expect(groups.canonicalize).toBeCloseTo(2);
    expect(groups['(garbage collector)']).toBeCloseTo(1);
    expect(groups['(idle)']).toBeUndefined();
  });

  it('adds up inclusive time of matching frames once per sample', () => {
    const [handler, validate, canonical] = inclusiveTimes(profile, [
      { label: 'validate', pattern: /^validateEvent / },
      { label: 'handler', pattern: /^handler / },
      { label: 'canonical', pattern: /canonicalize/ },
    ]);
    expect(handler).toMatchObject({ name: 'handler' });
    expect(handler?.ms).toBeCloseTo(7);
    expect(validate?.ms).toBeCloseTo(4);
    expect(canonical?.ms).toBeCloseTo(2);
    expect(handler?.pct).toBeCloseTo(87.5);
  });

  it('prints a table', () => {
    const table = timeTable(summariseProfile(profile).functions, 2, true);
    expect(table.split('\n')).toHaveLength(4);
    expect(table).toContain('zod');
  });
});
