import { tmpdir } from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';

/** A path nothing creates: the shared AWS files of the process environment, for the tests. */
const NO_FILE = path.join(tmpdir(), 'ebdedup-tests-no-such-folder', 'none');

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
    // It also reads the developer's own AWS settings from process.env (keys, profile, files): with a key pair
    // exported it warns "Multiple credential sources detected" on stderr, and a profile or file would be read.
    // The tests give the CLI its settings in the command's env, so these are blank here. Blank, not removed
    // (vitest can only set): the SDK treats '' as unset, except for the two files, which '' sends back to
    // ~/.aws, so they name a file that does not exist.
    env: {
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: '',
      AWS_CONTAINER_CREDENTIALS_FULL_URI: '',
      AWS_WEB_IDENTITY_TOKEN_FILE: '',
      AWS_ROLE_ARN: '',
      AWS_ROLE_SESSION_NAME: '',
      AWS_ACCESS_KEY_ID: '',
      AWS_SECRET_ACCESS_KEY: '',
      AWS_SESSION_TOKEN: '',
      AWS_CREDENTIAL_EXPIRATION: '',
      AWS_CREDENTIAL_SCOPE: '',
      AWS_ACCOUNT_ID: '',
      AWS_PROFILE: '',
      AWS_DEFAULT_PROFILE: '',
      AWS_SHARED_CREDENTIALS_FILE: NO_FILE,
      AWS_CONFIG_FILE: NO_FILE,
    },
  },
});
