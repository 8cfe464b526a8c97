import { describe, expect } from 'vitest';
import { chaosScenario } from './suite.js';

// Short chaos scenarios with every fault at once, and the hardening the issue asks for (load shedding, poison
// events): those are todos until the built receiver has them.
describe('chaos: all together, overload, poison events', () => {
  chaosScenario('all-together');
  chaosScenario('stream-all-together');
  chaosScenario('load-shedding', (report) => {
    expect(report.statuses['503 overloaded']).toBeGreaterThan(0);
  });
  chaosScenario('poison');
});
