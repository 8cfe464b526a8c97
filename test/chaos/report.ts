import type { Death } from './receiver.js';
import type { AttemptRecord, DeliveryRecord } from './simulator.js';

/**
 * From what the simulator saw and what the ground truth recorded to a scenario's verdict: lost (acknowledged
 * 2xx but never processed), doubled (processed more than once), whether every double carries one
 * Idempotency-Key and is explained by a crash between the sink's success and the completion write.
 */

/** One processing (or injected sink fault) in the ground truth. */
export interface LedgerEntry {
  type: string;
  uid: string | null;
  key: string;
  eventId: string | null;
  /** The receiver process that processed it (module sink); undefined for a stream entry. */
  pid?: number;
  at: number;
}

/**
 * How soon after a processing its process must have died for a double to be the crash window's: the
 * completion write follows the sink's success at once, but a store outage (Redis down or frozen, the network
 * cut) delays it by up to about one lease (DEDUP_LEASE_SECONDS=3 here). A double without such a death is a
 * receiver bug: a completion that never landed although its receiver lived on.
 */
export const CRASH_WINDOW_MS = 3000;

export interface Percentiles {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export interface DoubleDetail {
  uid: string;
  times: number;
  keys: string[];
  pids: number[];
  /** Every processing but the last was by a process that died of SIGKILL soon after (CRASH_WINDOW_MS). */
  explainedByCrash: boolean;
  /** When each processing happened (ms since the run's start) and what the simulator's attempts got. */
  processedAt: number[];
  answers: string[];
}

export type DoublesExpectation = 'none' | 'crash-window';

export interface Expectations {
  doubles: DoublesExpectation;
  /**
   * `none` (the default): an acknowledged event missing from the ground truth is a violation. `reported`: it
   * is only counted (a failover without REDIS_WAIT_REPLICAS may lose what the dead master acknowledged).
   */
  lost?: 'none' | 'reported';
  /** Events the scenario means to end in the dead-letter queue (poison events), by uid. */
  deadLetterUids?: ReadonlySet<string>;
  /** For those: the status they must be refused with. */
  deadLetterStatus?: number;
}

/** What names a scenario run: shared by its analysis input and its report. */
export interface ScenarioRun {
  scenario: string;
  title: string;
  sink: string;
  size: string;
  seed: number;
  receivers: number;
  durationMs: number;
}

export interface ScenarioReport extends ScenarioRun {
  deliveries: number;
  attempts: number;
  events: number;
  faults: Record<string, number>;
  processedOnce: number;
  lost: number;
  doubled: number;
  doubledSameKey: number;
  doubledByCrash: number;
  deadLetters: { total: number; byReason: Record<string, number>; unprocessed: number };
  statuses: Record<string, number>;
  latency: { attemptMs: Percentiles; endToEndMs: Percentiles };
  receiverLog: Record<string, number>;
  /** The longest time from a sink's hang to its processing (past the lease: the heartbeat held the claim). */
  slowestSinkMs: number;
  /** Receiver processes that died: SIGKILLed by the suite (`injected`) or by their own sink, ms since the start. */
  deaths: { receiver: string; pid: number; signal: string | null; injected: boolean; atMs: number }[];
  /** Ledger entries for events the simulator never published (must be 0). */
  phantom: number;
  lostUids: string[];
  doubles: DoubleDetail[];
  /** The first few dead letters with their attempts, to see why. */
  deadLetterDetails: { uid: string; kind: string; reason: string | undefined; answers: string[] }[];
  violations: string[];
}

export function percentiles(values: readonly number[]): Percentiles {
  if (values.length === 0) return { count: 0, p50: 0, p90: 0, p99: 0, max: 0 };
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number;
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    count: sorted.length,
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted.at(-1) as number),
  };
}

export interface AnalysisInput extends ScenarioRun {
  publishedUids: readonly string[];
  attempts: readonly AttemptRecord[];
  deliveries: readonly DeliveryRecord[];
  ledger: readonly LedgerEntry[];
  deaths: readonly Death[];
  /** Epoch ms of the simulator's time 0. */
  epoch: number;
  faults: Record<string, number>;
  receiverLog: Record<string, number>;
  expectations: Expectations;
}

const SINK_FAULTS: Record<string, string> = {
  failed: 'sink failed',
  hung: 'sink hung',
  died: 'sink SIGKILL after success',
  blocked: 'sink blocked loop',
};

export function analyse(input: AnalysisInput): ScenarioReport {
  const published = new Set(input.publishedUids);
  // A sink that kills its process writes a `died` line first: the exact time, where the exit is seen late.
  const diedLine = new Map<number, number>();
  for (const entry of input.ledger) {
    if (entry.type === 'died' && entry.pid !== undefined) diedLine.set(entry.pid, entry.at);
  }
  const killed = input.deaths
    .filter((death) => death.signal === 'SIGKILL')
    .map((death) => ({ ...death, at: Math.min(death.at, diedLine.get(death.pid) ?? death.at) }));
  /** A processing lies in the crash window when its process died of SIGKILL soon after it. */
  const diedRightAfter = (entry: LedgerEntry) =>
    killed.some(
      (death) => death.pid === entry.pid && death.at >= entry.at && death.at - entry.at <= CRASH_WINDOW_MS,
    );

  const processings = new Map<string, LedgerEntry[]>();
  const hungAt = new Map<string, number>();
  let slowestSinkMs = 0;
  const faults = { ...input.faults };
  let phantom = 0;
  for (const entry of input.ledger) {
    const label = SINK_FAULTS[entry.type];
    if (label) faults[label] = (faults[label] ?? 0) + 1;
    if (entry.type === 'hung') hungAt.set(`${entry.uid}/${entry.pid}`, entry.at);
    if (entry.type !== 'processed') continue;
    const hung = hungAt.get(`${entry.uid}/${entry.pid}`);
    if (hung !== undefined) slowestSinkMs = Math.max(slowestSinkMs, entry.at - hung);
    if (entry.uid === null || !published.has(entry.uid)) {
      phantom += 1;
      continue;
    }
    const list = processings.get(entry.uid) ?? [];
    list.push(entry);
    processings.set(entry.uid, list);
  }
  const selfDeaths = input.deaths.filter((death) => !death.injected && death.signal === 'SIGKILL').length;
  if (selfDeaths > 0) faults['receiver died (own sink)'] = selfDeaths;

  const acknowledged = new Set<string>();
  const deadLettered = new Map<string, DeliveryRecord[]>();
  for (const delivery of input.deliveries) {
    if (delivery.result === 'acknowledged') acknowledged.add(delivery.uid);
    else deadLettered.set(delivery.uid, [...(deadLettered.get(delivery.uid) ?? []), delivery]);
  }

  const answersOf = (uid: string) =>
    input.attempts
      .filter((attempt) => attempt.uid === uid)
      .map(
        (attempt) =>
          `${attempt.startedAt}+${Math.round(attempt.latencyMs)} ${attempt.kind}#${attempt.delivery}.${attempt.attempt} ` +
          `${attempt.status ?? attempt.error}${attempt.outcome ? ` ${attempt.outcome}` : ''} ${new URL(attempt.target).port}`,
      );

  let processedOnce = 0;
  const lostUids: string[] = [];
  const doubles: DoubleDetail[] = [];
  for (const uid of published) {
    const done = processings.get(uid) ?? [];
    if (done.length === 1) processedOnce += 1;
    if (done.length === 0 && acknowledged.has(uid)) lostUids.push(uid);
    if (done.length > 1) {
      const ordered = [...done].sort((a, b) => a.at - b.at);
      const pids = ordered.map((entry) => entry.pid ?? -1);
      doubles.push({
        uid,
        times: ordered.length,
        keys: [...new Set(ordered.map((entry) => entry.key))],
        pids,
        explainedByCrash: ordered.slice(0, -1).every(diedRightAfter),
        processedAt: ordered.map((entry) => entry.at - input.epoch),
        answers: answersOf(uid),
      });
    }
  }

  const byReason: Record<string, number> = {};
  let unprocessed = 0;
  const deadLetterList = input.deliveries.filter((delivery) => delivery.result === 'dead-letter');
  for (const delivery of deadLetterList) {
    const why =
      delivery.reason === 'final-status'
        ? `${delivery.status}${delivery.outcome ? ` ${delivery.outcome}` : ''}`
        : `${delivery.reason}${delivery.status ? ` (last ${delivery.status})` : delivery.error ? ` (last ${delivery.error})` : ''}`;
    byReason[why] = (byReason[why] ?? 0) + 1;
  }
  for (const uid of deadLettered.keys()) {
    if (!acknowledged.has(uid) && !processings.has(uid)) unprocessed += 1;
  }

  const statuses: Record<string, number> = {};
  for (const attempt of input.attempts) {
    const label =
      attempt.status !== undefined
        ? `${attempt.status}${attempt.status >= 300 && attempt.outcome ? ` ${attempt.outcome}` : ''}`
        : (attempt.error ?? 'error');
    statuses[label] = (statuses[label] ?? 0) + 1;
  }

  const report: ScenarioReport = {
    scenario: input.scenario,
    title: input.title,
    sink: input.sink,
    size: input.size,
    seed: input.seed,
    receivers: input.receivers,
    durationMs: input.durationMs,
    deliveries: input.deliveries.length,
    attempts: input.attempts.length,
    events: published.size,
    faults,
    processedOnce,
    lost: lostUids.length,
    doubled: doubles.length,
    doubledSameKey: doubles.filter((double) => double.keys.length === 1).length,
    doubledByCrash: doubles.filter((double) => double.explainedByCrash).length,
    deadLetters: { total: deadLetterList.length, byReason, unprocessed },
    statuses,
    latency: {
      attemptMs: percentiles(input.attempts.map((attempt) => attempt.latencyMs)),
      endToEndMs: percentiles(
        input.deliveries
          .filter((delivery) => delivery.result === 'acknowledged')
          .map((delivery) => delivery.endedAt - delivery.startedAt),
      ),
    },
    receiverLog: input.receiverLog,
    slowestSinkMs,
    deaths: killed.map((death) => ({
      receiver: death.receiver,
      pid: death.pid,
      signal: death.signal,
      injected: death.injected,
      atMs: death.at - input.epoch,
    })),
    phantom,
    lostUids,
    doubles,
    deadLetterDetails: deadLetterList.slice(0, 10).map((delivery) => ({
      uid: delivery.uid,
      kind: delivery.kind,
      reason: delivery.reason,
      answers: answersOf(delivery.uid),
    })),
    violations: [],
  };
  report.violations = violations(report, input.expectations, deadLetterList);
  return report;
}

function violations(
  report: ScenarioReport,
  expect: Expectations,
  deadLetters: readonly DeliveryRecord[],
): string[] {
  const found: string[] = [];
  if (report.lost > 0 && expect.lost !== 'reported')
    found.push(`lost ${report.lost} acknowledged event(s): ${report.lostUids.slice(0, 5).join(', ')}`);
  if (report.phantom > 0) found.push(`${report.phantom} processing(s) of events never published`);
  const differentKeys = report.doubles.filter((double) => double.keys.length !== 1);
  if (differentKeys.length > 0) {
    found.push(`${differentKeys.length} double(s) with different Idempotency-Keys: ${differentKeys[0]?.uid}`);
  }
  if (expect.doubles === 'none' && report.doubled > 0) {
    found.push(`${report.doubled} event(s) processed more than once (expected none)`);
  }
  if (expect.doubles === 'crash-window') {
    const unexplained = report.doubles.filter((double) => !double.explainedByCrash);
    if (unexplained.length > 0) {
      found.push(
        `${unexplained.length} double(s) not explained by a crash after the sink's success: ${unexplained
          .slice(0, 3)
          .map((double) => `${double.uid} ×${double.times} pids ${double.pids.join('/')}`)
          .join('; ')}`,
      );
    }
  }
  const planned = expect.deadLetterUids ?? new Set<string>();
  const unplanned = deadLetters.filter((delivery) => !planned.has(delivery.uid));
  if (unplanned.length > 0) {
    found.push(
      `${unplanned.length} unexpected dead letter(s): ${unplanned
        .slice(0, 3)
        .map((delivery) => `${delivery.kind} ${delivery.reason} ${delivery.status ?? delivery.error ?? ''}`)
        .join('; ')}`,
    );
  }
  for (const uid of planned) {
    const own = deadLetters.filter((delivery) => delivery.uid === uid);
    if (own.length === 0) found.push(`poison event ${uid} never reached the dead-letter queue`);
    else if (expect.deadLetterStatus !== undefined && own.some((d) => d.status !== expect.deadLetterStatus)) {
      found.push(`poison event ${uid} dead-lettered with ${own.map((d) => d.status ?? d.reason).join('/')}`);
    }
  }
  return found;
}

const fmt = (value: number) => (Number.isInteger(value) ? String(value) : value.toFixed(1));

function faultsCell(faults: Record<string, number>): string {
  const parts = Object.entries(faults)
    .filter(([, count]) => count > 0)
    .map(([label, count]) => `${label} ×${count}`);
  return parts.length > 0 ? parts.join(', ') : '–';
}

/** The dead letters of a run and why: `0`, or `N (n1 reason1, n2 reason2)`. */
export function deadLetterCell(report: ScenarioReport): string {
  if (report.deadLetters.total === 0) return '0';
  const why = Object.entries(report.deadLetters.byReason)
    .map(([reason, count]) => `${count} ${reason}`)
    .join(', ');
  return `${report.deadLetters.total} (${why})`;
}

/** The last cells of every row: attempt latency, acknowledgement latency, verdict. */
export function latencyAndVerdictCells(report: ScenarioReport): string[] {
  const { attemptMs, endToEndMs } = report.latency;
  return [
    `${fmt(attemptMs.p50)} / ${fmt(attemptMs.p99)}`,
    `${fmt(endToEndMs.p50)} / ${fmt(endToEndMs.p99)} / ${fmt(endToEndMs.max)}`,
    report.violations.length === 0 ? 'pass' : `**FAIL**: ${report.violations.join('; ')}`,
  ];
}

/** A Markdown table: `header` (a row of cells between pipes), its rule, and one row per list of cells. */
export function markdownRows(header: string, rows: readonly (readonly (string | number)[])[]): string {
  const rule = `|${header
    .split('|')
    .slice(1, -1)
    .map(() => '---')
    .join('|')}|`;
  return [header, rule, ...rows.map((cells) => ['', ...cells, ''].join(' | ').trim())].join('\n');
}

/** The Markdown table of a run: one row per scenario. */
export function markdownTable(reports: readonly ScenarioReport[]): string {
  return markdownRows(
    '| scenario | sink | faults injected | deliveries (attempts) | events | processed once | lost | doubled (same key / after crash) | DLQ (why) | attempt p50 / p99 ms | ack p50 / p99 / max ms | verdict |',
    reports.map((report) => [
      report.scenario,
      report.sink,
      faultsCell(report.faults),
      `${report.deliveries} (${report.attempts})`,
      report.events,
      report.processedOnce,
      report.lost,
      report.doubled === 0 ? '0' : `${report.doubled} (${report.doubledSameKey} / ${report.doubledByCrash})`,
      deadLetterCell(report),
      ...latencyAndVerdictCells(report),
    ]),
  );
}
