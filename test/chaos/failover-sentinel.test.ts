import { failoverTests } from './failover-suite.js';

// The Sentinel master (1 master, 2 replicas, 3 sentinels) SIGKILLed under load (two receivers, SINK=redis-stream,
// one stream), a replica promoted, the old master turned back into a replica by the sentinels: with
// REDIS_WAIT_REPLICAS=0 and =1. `npm run chaos` runs the full size and the SIGSTOP variants.
failoverTests('sentinel', ['failover-sentinel-wait0', 'failover-sentinel-wait1']);
