import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import {
  Cleanup,
  type FailoverReport,
  failoverScenario,
  runFailover,
  startTopology,
  type Topology,
  type TopologyKind,
} from './failover.js';

/**
 * The short failover tests of one topology: it is started once (a few seconds) and each scenario runs on it
 * with its own streams and keys, the master it kills being whichever serves the most streams then. Held to:
 * the failover really happened (a replica of the killed master promoted, the old master back as a replica),
 * no double in the streams, no unexpected dead letter; with REDIS_WAIT_REPLICAS=1 nothing acknowledged lost.
 * With REDIS_WAIT_REPLICAS=0 the lost figure is only reported (a failover may lose what was acknowledged).
 */

/** The figures a failure message shows of a failover report. */
const SUMMARY_FIELDS = [
  'scenario',
  'failovers',
  'failoverError',
  'statuses',
  'lost',
  'doubled',
  'consumerView',
  'deadLetters',
  'violations',
] as const;

function summary(report: FailoverReport): string {
  return JSON.stringify(Object.fromEntries(SUMMARY_FIELDS.map((field) => [field, report[field]])));
}

export function failoverTests(kind: TopologyKind, names: readonly string[]): void {
  describe(`failover figures: ${kind}`, { timeout: 120_000 }, () => {
    let topology: Topology | undefined;

    beforeAll(async () => {
      topology = await startTopology(kind);
    });

    afterAll(async () => {
      await topology?.close();
    });

    for (const name of names) {
      const spec = failoverScenario(name);
      it(`${name}: ${spec.title}`, async () => {
        const cleanup = new Cleanup();
        onTestFinished(() => cleanup.run());
        const report = await runFailover(spec, 'short', { ...(topology ? { topology } : {}), cleanup });
        const context = summary(report);

        expect(report.failoverError, context).toBeUndefined();
        expect(report.failovers, context).toHaveLength(1);
        for (const cycle of report.failovers) {
          expect(cycle.victimStreams.length, context).toBeGreaterThan(0);
          expect(cycle.promotedWasReplica, context).toBe(true);
          expect(cycle.rejoinedAsReplica, context).toBe(true);
        }
        // Every event reached the streams once: a double there would break the redis-stream guarantee.
        expect(report.doubled, context).toBe(0);
        expect(report.phantom, context).toBe(0);
        if (spec.waitReplicas > 0) expect(report.lost, context).toBe(0);
        expect(report.violations, context).toEqual([]);
        expect(report.processedOnce + report.lost, context).toBeLessThanOrEqual(report.events);
      });
    }
  });
}
