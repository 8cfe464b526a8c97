import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import {
  FAILOVER_RECEIVER_SETTINGS,
  FAILOVER_SCENARIOS,
  FAILOVER_SETUP,
  type FailoverReport,
  failoverTable,
  runFailover,
} from './failover.js';
import { receiverSupports, runScenario, type SizeName } from './harness.js';
import { markdownTable, type ScenarioReport } from './report.js';
import { SCENARIOS } from './scenarios.js';

/**
 * `npm run chaos`: every scenario at full size, one after another (after `npm run build`), then the table on
 * stdout and the whole run in test/chaos/results/<date>.json and .md. Exit code 1 when a scenario failed its
 * expectations (lost > 0, an unexpected double, an unexpected dead letter). The failover scenarios (a Redis
 * Cluster or Sentinel master killed under load, failover.ts) come last, with their own table, in
 * test/chaos/results/<date>-failover.json and .md.
 *
 *   npm run chaos                                  full size, every scenario
 *   npm run chaos -- --size short                  the short size (what npm test runs)
 *   npm run chaos -- --only redis-kill,sink-die    some scenarios
 *   npm run chaos -- --only failover-cluster-wait0,failover-cluster-wait1,failover-sentinel-wait0,failover-sentinel-wait1
 *   npm run chaos -- --seed 7 --verbose
 */

interface Args {
  size: SizeName;
  only: string[] | undefined;
  seed: number;
  verbose: boolean;
  write: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const args: Args = { size: 'full', only: undefined, seed: 1, verbose: false, write: true };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = () => {
      const next = argv[index + 1];
      if (next === undefined) throw new Error(`${flag} needs a value`);
      index += 1;
      return next;
    };
    if (flag === '--size') {
      const size = value();
      if (size !== 'short' && size !== 'full') throw new Error('--size is short or full');
      args.size = size;
    } else if (flag === '--only') args.only = value().split(',');
    else if (flag === '--seed') args.seed = Number(value());
    else if (flag === '--verbose') args.verbose = true;
    else if (flag === '--no-write') args.write = false;
    else throw new Error(`unknown option ${flag}`);
  }
  return args;
}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Which receiver was measured: the commit, and whether src/ had uncommitted changes (built into dist/). */
function sourceState(): { commit: string; srcDirty: boolean | undefined } {
  const git = (...args: string[]) =>
    execFileSync('git', args, {
      cwd: fileURLToPath(new URL('../../', import.meta.url)),
      encoding: 'utf8',
    }).trim();
  try {
    return {
      commit: git('rev-parse', '--short', 'HEAD'),
      srcDirty: git('status', '--porcelain', '--', 'src') !== '',
    };
  } catch {
    return { commit: process.env.CHAOS_SOURCE ?? 'unknown', srcDirty: undefined };
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const chosen = SCENARIOS.filter((spec) => args.only === undefined || args.only.includes(spec.name));
  const chosenFailovers = FAILOVER_SCENARIOS.filter(
    (spec) => args.only === undefined || args.only.includes(spec.name),
  );
  const known = new Set([...SCENARIOS, ...FAILOVER_SCENARIOS].map((spec) => spec.name));
  const unknown = (args.only ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`no scenario named ${unknown.join(', ')}`);
  if (chosen.length === 0 && chosenFailovers.length === 0) throw new Error('no scenario chosen');
  const reports: ScenarioReport[] = [];
  const skipped: string[] = [];
  const started = Date.now();
  for (const spec of chosen) {
    if (spec.requires && !receiverSupports(spec.requires)) {
      skipped.push(`${spec.name} (the receiver has no ${spec.requires} yet)`);
      out(`- ${spec.name}: skipped, the built receiver has no ${spec.requires} yet`);
      continue;
    }
    out(`- ${spec.name}: ${spec.title}`);
    const report = await runScenario(spec, args.size, {
      seed: args.seed,
      ...(args.verbose ? { log: (line: string) => out(`    ${line}`) } : {}),
    });
    reports.push(report);
    if (args.verbose) {
      out(
        `    receiver log: ${JSON.stringify(report.receiverLog)}; statuses: ${JSON.stringify(report.statuses)}`,
      );
      out(`    deaths: ${JSON.stringify(report.deaths)}`);
      for (const double of report.doubles) out(`    double: ${JSON.stringify(double)}`);
    }
    out(
      `    ${report.violations.length === 0 ? 'pass' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s: ` +
        `${report.events} events, ${report.attempts} attempts, lost ${report.lost}, doubled ${report.doubled}, ` +
        `DLQ ${report.deadLetters.total}` +
        (report.violations.length > 0 ? `\n    ${report.violations.join('\n    ')}` : ''),
    );
  }
  const classicS = Math.round((Date.now() - started) / 1000);
  const failoverReports: FailoverReport[] = [];
  const failoverStarted = Date.now();
  for (const spec of chosenFailovers) {
    out(`- ${spec.name}: ${spec.title}`);
    const report = await runFailover(spec, args.size, {
      seed: args.seed,
      ...(args.verbose ? { log: (line: string) => out(`    ${line}`) } : {}),
    });
    failoverReports.push(report);
    if (args.verbose) {
      out(
        `    receiver log: ${JSON.stringify(report.receiverLog)}; statuses: ${JSON.stringify(report.statuses)}`,
      );
      out(`    failovers: ${JSON.stringify(report.failovers)}`);
      out(
        `    streams: ${JSON.stringify(report.streams)}; consumer view: ${JSON.stringify(report.consumerView)}`,
      );
      for (const { message, count } of report.receiverErrors) out(`    receiver error ×${count}: ${message}`);
      for (const double of report.doubles) out(`    double: ${JSON.stringify(double)}`);
      if (report.lostUids.length > 0) out(`    lost: ${report.lostUids.slice(0, 20).join(', ')}`);
    }
    out(
      `    ${report.violations.length === 0 ? 'pass' : 'FAIL'} in ${(report.durationMs / 1000).toFixed(1)} s: ` +
        `${report.events} events, ${report.attempts} attempts, ${report.failovers.length} failover(s), ` +
        `lost ${report.lost}, doubled ${report.doubled}, 503 ${report.status503}, DLQ ${report.deadLetters.total}` +
        (report.violations.length > 0 ? `\n    ${report.violations.join('\n    ')}` : ''),
    );
  }
  const failoverS = Math.round((Date.now() - failoverStarted) / 1000);

  const table = markdownTable(reports);
  const totalS = classicS;
  const failed = [...reports, ...failoverReports].filter((report) => report.violations.length > 0);
  if (reports.length > 0) {
    out('');
    out(table);
  }
  if (failoverReports.length > 0) {
    out('');
    out(failoverTable(failoverReports));
  }
  out('');
  out(
    `${reports.length + failoverReports.length} scenario(s) at ${args.size} size in ${classicS + failoverS} s, ` +
      `${failed.length} failed.`,
  );
  if (skipped.length > 0) out(`Skipped: ${skipped.join(', ')}`);

  if (args.write) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const name = `${stamp}${args.size === 'full' ? '' : `-${args.size}`}`;
    const common = {
      date: new Date().toISOString(),
      size: args.size,
      seed: args.seed,
      node: process.version,
      cpus: availableParallelism(),
      source: sourceState(),
    };
    const receiverAt = `receiver at ${common.source.commit}${common.source.srcDirty ? ' with uncommitted src/ changes' : ''}`;
    if (reports.length > 0) {
      const meta = { ...common, totalSeconds: totalS, skipped };
      writeFileSync(`${dir}${name}.json`, `${JSON.stringify({ ...meta, reports }, null, 2)}\n`);
      writeFileSync(
        `${dir}${name}.md`,
        `# Chaos run ${meta.date}\n\n${args.size} size, seed ${args.seed}, ${meta.cpus} CPUs, Node ${meta.node}, ${totalS} s; ` +
          `${receiverAt}.\n\n${table}\n` +
          (skipped.length > 0 ? `\nSkipped: ${skipped.join(', ')}\n` : ''),
      );
      out(`Wrote test/chaos/results/${name}.json and .md`);
    }
    if (failoverReports.length > 0) {
      const meta = { ...common, totalSeconds: failoverS, receiverSettings: FAILOVER_RECEIVER_SETTINGS };
      writeFileSync(
        `${dir}${name}-failover.json`,
        `${JSON.stringify({ ...meta, reports: failoverReports }, null, 2)}\n`,
      );
      writeFileSync(
        `${dir}${name}-failover.md`,
        `# Failover run ${meta.date}\n\n${args.size} size, seed ${args.seed}, ${meta.cpus} CPUs, Node ${meta.node}, ` +
          `${failoverS} s; ${receiverAt}.\n\n${FAILOVER_SETUP}\n\n${failoverTable(failoverReports)}\n`,
      );
      out(`Wrote test/chaos/results/${name}-failover.json and .md`);
    }
  }
  return failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `chaos: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(2);
  },
);
