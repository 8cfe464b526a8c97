import { markdownTable } from './report.js';

/**
 * Reads a V8 `.cpuprofile` (what `node --cpu-prof` writes) and says where the time went: self time per
 * function, self time per package (a dependency, a file of the receiver, Node's internals, V8's builtins,
 * GC), and inclusive time of chosen functions. Pure, so it is unit-tested on a hand-made profile.
 */

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

export interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: CpuProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

export interface TimeEntry {
  name: string;
  group: string;
  ms: number;
  /** Share of the busy time (all samples but `(idle)`). */
  pct: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  functions: TimeEntry[];
  groups: TimeEntry[];
}

const SPECIAL = new Set(['(idle)', '(program)', '(garbage collector)', '(root)']);

/** A short location: `node_modules/<pkg>/<file>`, `dist/<file>`, `node:<module>` or the url itself. */
export function shortUrl(url: string): string {
  const clean = url.replace(/^file:\/\//, '');
  const modules = clean.lastIndexOf('/node_modules/');
  if (modules >= 0) return clean.slice(modules + 1);
  const dist = clean.lastIndexOf('/dist/');
  if (dist >= 0) return clean.slice(dist + 1);
  return clean;
}

/** What a frame belongs to: a package name, `receiver: dist/<file>`, `node:<area>`, `V8 builtins`, or GC etc. */
export function groupOf(frame: CallFrame): string {
  if (SPECIAL.has(frame.functionName)) return frame.functionName;
  const url = shortUrl(frame.url);
  if (url === '') return 'V8 builtins / native';
  if (url.startsWith('node_modules/')) {
    const parts = url.split('/');
    return parts[1]?.startsWith('@') ? `${parts[1]}/${parts[2]}` : (parts[1] ?? url);
  }
  if (url.startsWith('dist/')) return `receiver: ${url}`;
  if (url.startsWith('node:')) {
    const match = /^node:(?:internal\/)?([a-z_]+)/.exec(url);
    return `node:${match?.[1] ?? url.slice(5)}`;
  }
  return url;
}

export function frameName(frame: CallFrame): string {
  const name = frame.functionName || '(anonymous)';
  if (SPECIAL.has(name) || frame.url === '') return name;
  return `${name} ${shortUrl(frame.url)}:${frame.lineNumber + 1}`;
}

/** How long each sample stood for, in ms: from its timestamp to the next one's (the last: the mean). */
export function sampleDurations(profile: CpuProfile): Float64Array {
  const n = profile.samples.length;
  const durations = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const next = profile.timeDeltas[i + 1];
    durations[i] = (next ?? 0) / 1000;
  }
  if (n > 1) {
    let total = 0;
    for (let i = 0; i < n - 1; i++) total += durations[i] as number;
    durations[n - 1] = total / (n - 1);
  }
  return durations;
}

function toEntries(map: Map<string, { group: string; ms: number }>, busyMs: number): TimeEntry[] {
  return [...map.entries()]
    .map(([name, { group, ms }]) => ({ name, group, ms, pct: busyMs > 0 ? (ms / busyMs) * 100 : 0 }))
    .sort((a, b) => b.ms - a.ms);
}

export function summariseProfile(profile: CpuProfile): ProfileSummary {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const durations = sampleDurations(profile);
  const functions = new Map<string, { group: string; ms: number }>();
  const groups = new Map<string, { group: string; ms: number }>();
  let totalMs = 0;
  let idleMs = 0;
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const ms = durations[i] as number;
    totalMs += ms;
    if (node.callFrame.functionName === '(idle)') {
      idleMs += ms;
      return;
    }
    const group = groupOf(node.callFrame);
    const name = frameName(node.callFrame);
    const fn = functions.get(name) ?? { group, ms: 0 };
    fn.ms += ms;
    functions.set(name, fn);
    const grouped = groups.get(group) ?? { group, ms: 0 };
    grouped.ms += ms;
    groups.set(group, grouped);
  });
  const busyMs = totalMs - idleMs;
  return {
    totalMs,
    idleMs,
    busyMs,
    functions: toEntries(functions, busyMs),
    groups: toEntries(groups, busyMs),
  };
}

/**
 * Inclusive time (self plus everything called from it) of every frame whose name matches one of
 * `patterns`, counting a sample once per pattern even under recursion.
 */
export function inclusiveTimes(
  profile: CpuProfile,
  matchers: readonly { label: string; pattern: RegExp }[],
): TimeEntry[] {
  const patterns = matchers.map((matcher) => matcher.pattern);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const durations = sampleDurations(profile);
  const totals = patterns.map(() => 0);
  let busyMs = 0;
  profile.samples.forEach((id, i) => {
    const ms = durations[i] as number;
    const leaf = byId.get(id);
    if (!leaf || leaf.callFrame.functionName === '(idle)') return;
    busyMs += ms;
    const hit = patterns.map(() => false);
    for (let node: CpuProfileNode | undefined = leaf; node; node = byId.get(parent.get(node.id) ?? -1)) {
      const name = frameName(node.callFrame);
      patterns.forEach((pattern, p) => {
        if (!hit[p] && pattern.test(name)) hit[p] = true;
      });
    }
    hit.forEach((yes, p) => {
      if (yes) totals[p] = (totals[p] as number) + ms;
    });
  });
  return patterns
    .map((pattern, p) => ({
      name: matchers[p]?.label ?? pattern.source,
      group: 'inclusive',
      ms: totals[p] as number,
      pct: busyMs > 0 ? ((totals[p] as number) / busyMs) * 100 : 0,
    }))
    .sort((a, b) => b.ms - a.ms);
}

export function timeTable(
  entries: readonly TimeEntry[],
  limit: number,
  withGroup: boolean,
  firstHeader = 'function',
): string {
  const rows = entries
    .slice(0, limit)
    .map((entry) => [
      entry.name,
      ...(withGroup ? [entry.group] : []),
      entry.ms.toFixed(0),
      `${entry.pct.toFixed(1)} %`,
    ]);
  return markdownTable(
    [firstHeader, ...(withGroup ? ['where'] : []), 'ms', '% of busy'],
    rows,
    withGroup ? ['l', 'l', 'r', 'r'] : ['l', 'r', 'r'],
  );
}
