// Runs the `hearth serve` end-to-end tests one file at a time (each starts
// its own servers; running them side by side on a 2-core machine only makes
// timings noisy). Exits 77 — ctest's "skipped" — when node_modules, the
// shared models or the binary are missing.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { missingPrerequisites } from './lib.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const missing = missingPrerequisites();
if (missing.length) {
  console.log(`hearth serve e2e: skipping, missing: ${missing.join('; ')}`);
  process.exit(77);
}
let failed = 0;
for (const file of ['clients.test.mjs', 'greedy.test.mjs', 'security.test.mjs']) {
  const r = spawnSync(process.execPath, ['--test', path.join(here, file)], { stdio: 'inherit', cwd: here });
  if (r.status !== 0) {
    console.log(`hearth serve e2e: ${file} failed (status ${r.status})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
