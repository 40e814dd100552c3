// `npm run fuzz`: the property-based fuzz suite of the server (packages/server/src/test/fuzz).
// Usage: npm run fuzz -- [--runs N] [--seed N] [--store sqlite|postgres] [--path P]
// 100,000 cases by default, shared between SQLite and PostgreSQL (when TEST_DATABASE_URL is set).
import { spawnSync } from 'node:child_process';

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', 'packages/server/src/test/fuzz/run.ts', ...process.argv.slice(2)],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);
