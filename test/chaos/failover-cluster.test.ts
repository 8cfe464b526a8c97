import { failoverTests } from './failover-suite.js';

// A Redis Cluster master SIGKILLed under load (two receivers, SINK=redis-stream over 6 partitions), its replica
// promoted, the old master back as a replica: with REDIS_WAIT_REPLICAS=0 and =1. `npm run chaos` runs the full
// size (three failovers each) and the SIGSTOP variants.
failoverTests('cluster', ['failover-cluster-wait0', 'failover-cluster-wait1']);
