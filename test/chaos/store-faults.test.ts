import { describe, expect } from 'vitest';
import { chaosScenario } from './suite.js';

// Short chaos scenarios (a few seconds each) for faults of Redis and of the network to it; `npm run chaos` runs
// them at full size. Each starts its own redis-server, receivers and proxy on free loopback ports.
describe('chaos: Redis and the network to it', () => {
  chaosScenario('baseline', (report) => {
    // The simulator really did deliver at least once: more deliveries than events.
    expect(report.deliveries).toBeGreaterThan(report.events);
  });
  chaosScenario('redis-kill', (report) => {
    expect(report.faults['Redis SIGKILL+restart']).toBeGreaterThan(0);
  });
  chaosScenario('redis-freeze', (report) => {
    expect(report.faults['Redis SIGSTOP']).toBeGreaterThan(0);
  });
  chaosScenario('slow-network', (report) => {
    expect(report.faults['proxy cut all']).toBeGreaterThan(0);
  });
  chaosScenario('stream-redis-kill');
  chaosScenario('stream-redis-freeze');
});
