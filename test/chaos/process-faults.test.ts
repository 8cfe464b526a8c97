import { describe, expect } from 'vitest';
import { chaosScenario } from './suite.js';

// Short chaos scenarios for faults of the receiver processes and of the sink.
describe('chaos: receivers and sinks', () => {
  chaosScenario('receiver-kill', (report) => {
    expect(report.faults['receiver SIGKILL']).toBeGreaterThan(0);
  });
  chaosScenario('two-receivers');
  chaosScenario('sink-fail', (report) => {
    expect(report.faults['sink failed']).toBeGreaterThan(0);
    expect(report.statuses['500 processing_failed']).toBeGreaterThan(0);
  });
  chaosScenario('sink-hang', (report) => {
    expect(report.statuses['504 processing_timeout']).toBeGreaterThan(0);
    // Some sink ran past the 3 s lease: only the heartbeat kept its claim from lapsing.
    expect(report.slowestSinkMs).toBeGreaterThan(3000);
  });
  chaosScenario('sink-die', (report) => {
    expect(report.faults['receiver died (own sink)']).toBeGreaterThan(0);
  });
  chaosScenario('stream-receiver-kill');
});
