import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Each file starts its own redis-server and child processes: forks keep them apart and killable.
    pool: 'forks',
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Two cores: more parallel files only queue behind each other and make timings noisy.
    maxWorkers: 2,
    reporters: ['default'],
    // The AWS SDK's credential chain (put-events, redrive) ends with the EC2 instance metadata service at
    // 169.254.169.254 and reads the container/web identity variables from process.env: tests stay on 127.0.0.1.
    env: {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
    },
  },
});
