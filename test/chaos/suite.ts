import { expect, it } from 'vitest';
import { receiverSupports, runScenario } from './harness.js';
import type { ScenarioReport } from './report.js';
import { scenario } from './scenarios.js';

/**
 * The short chaos suite's test for one scenario: run it at the short size and hold it to its expectations:
 * nothing acknowledged is lost; no double where none is allowed; a double only after a crash between the
 * sink's success and the completion write, and then with one Idempotency-Key; no unexpected dead letter.
 * A scenario for a receiver feature that is not built yet is a todo.
 */

/** One line for a failure message: enough to rerun and look (`npm run chaos -- --only NAME --verbose`). */
function summary(report: ScenarioReport): string {
  return JSON.stringify({
    scenario: report.scenario,
    events: report.events,
    attempts: report.attempts,
    faults: report.faults,
    statuses: report.statuses,
    receiverLog: report.receiverLog,
    lost: report.lostUids,
    doubles: report.doubles.map(({ uid, times, keys, pids, explainedByCrash }) => ({
      uid,
      times,
      keys,
      pids,
      explainedByCrash,
    })),
    deadLetters: report.deadLetters,
  });
}

export function chaosScenario(
  name: string,
  check?: (report: ScenarioReport) => void,
  timeoutMs = 75_000,
): void {
  const spec = scenario(name);
  if (spec.requires && !receiverSupports(spec.requires)) {
    it.todo(`${name}: ${spec.title} (waiting for ${spec.requires} in the receiver)`);
    return;
  }
  it(
    `${name}: ${spec.title}`,
    async () => {
      const report = await runScenario(spec, 'short');
      const context = summary(report);

      expect(report.lost, context).toBe(0);
      for (const double of report.doubles) expect(double.keys, context).toHaveLength(1);
      if (spec.doubles === 'none') expect(report.doubled, context).toBe(0);
      else expect(report.doubledByCrash, context).toBe(report.doubled);
      expect(report.violations, context).toEqual([]);
      expect(report.processedOnce + report.doubled, context).toBe(
        report.events - report.deadLetters.unprocessed,
      );
      check?.(report);
    },
    timeoutMs,
  );
}
