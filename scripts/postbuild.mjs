// The `ebdedup` bin must be executable after `tsc`, which keeps the shebang but not the mode.
import { chmodSync } from 'node:fs';

chmodSync(new URL('../dist/cli/index.js', import.meta.url), 0o755);
