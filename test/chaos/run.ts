import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { receiverSupports, runScenario, type SizeName } from './harness.js';
import { markdownTable, type ScenarioReport } from './report.js';
import { SCENARIOS } from './scenarios.js';

/**
 * `npm run chaos`: every scenario at full size, one after another (after `npm run build`), then the table on
 * stdout and the whole run in test/chaos/results/<date>.json and .md. Exit code 1 when a scenario failed its
 * expectations (lost > 0, an unexpected double, an unexpected dead letter).
 *
 *   npm run chaos                                  full size, every scenario
 *   npm run chaos -- --size short                  the short size (what npm test runs)
 *   npm run chaos -- --only redis-kill,sink-die    some scenarios
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
  if (chosen.length === 0) throw new Error('no scenario chosen');
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
  const table = markdownTable(reports);
  const totalS = Math.round((Date.now() - started) / 1000);
  const failed = reports.filter((report) => report.violations.length > 0);
  out('');
  out(table);
  out('');
  out(`${reports.length} scenario(s) at ${args.size} size in ${totalS} s, ${failed.length} failed.`);
  if (skipped.length > 0) out(`Skipped: ${skipped.join(', ')}`);

  if (args.write) {
    const dir = fileURLToPath(new URL('./results/', import.meta.url));
    mkdirSync(dir, { recursive: true });
    const stamp = new Date()
      .toISOString()
      .replace(/:/g, '-')
      .replace(/\.\d+Z$/, 'Z');
    const name = `${stamp}${args.size === 'full' ? '' : `-${args.size}`}`;
    const meta = {
      date: new Date().toISOString(),
      size: args.size,
      seed: args.seed,
      node: process.version,
      cpus: availableParallelism(),
      totalSeconds: totalS,
      source: sourceState(),
      skipped,
    };
    writeFileSync(`${dir}${name}.json`, `${JSON.stringify({ ...meta, reports }, null, 2)}\n`);
    writeFileSync(
      `${dir}${name}.md`,
      `# Chaos run ${meta.date}\n\n${args.size} size, seed ${args.seed}, ${meta.cpus} CPUs, Node ${meta.node}, ${totalS} s; ` +
        `receiver at ${meta.source.commit}${meta.source.srcDirty ? ' with uncommitted src/ changes' : ''}.\n\n${table}\n` +
        (skipped.length > 0 ? `\nSkipped: ${skipped.join(', ')}\n` : ''),
    );
    out(`Wrote test/chaos/results/${name}.json and .md`);
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
