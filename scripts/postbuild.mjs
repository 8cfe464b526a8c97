// The `ebdedup` bin must be executable after `tsc`, which keeps the shebang but not the mode.
import { chmodSync, copyFileSync, mkdirSync, readdirSync } from 'node:fs';

chmodSync(new URL('../dist/cli/index.js', import.meta.url), 0o755);

// The Redis store's Lua scripts are read at start-up from next to the compiled module
// (src/store/redis/commands.ts); tsc does not copy them.
const scripts = new URL('../src/store/redis/scripts/', import.meta.url);
const target = new URL('../dist/store/redis/scripts/', import.meta.url);
mkdirSync(target, { recursive: true });
for (const name of readdirSync(scripts).filter((file) => file.endsWith('.lua'))) {
  copyFileSync(new URL(name, scripts), new URL(name, target));
}
