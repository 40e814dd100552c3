// Runs every package's tests with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/test.mjs [path-filter ...]
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir, found = []) {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'dist') continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, found);
    else if (name.endsWith('.test.ts')) found.push(path);
  }
  return found;
}

const filters = process.argv.slice(2);
const files = ['packages', 'examples'].flatMap((root) => findTests(root))
  .filter((file) => filters.length === 0 || filters.some((filter) => file.includes(filter)))
  .sort();
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
// A fresh clone's real `npm install` takes minutes: that file runs after the rest, alone, with a
// 15-minute limit, so every other test keeps the 2-minute limit that catches a hang early.
const isSlow = (file) => file.endsWith('fresh-clone.test.ts');
const runs = [
  { files: files.filter((file) => !isSlow(file)), timeout: 120_000 },
  { files: files.filter(isSlow), timeout: 900_000 },
].filter((run) => run.files.length > 0);
let status = 0;
for (const run of runs) {
  const result = spawnSync(
    process.execPath,
    ['--import', 'tsx', '--test', '--test-concurrency=2', `--test-timeout=${run.timeout}`, ...run.files],
    { stdio: 'inherit' },
  );
  if (result.status !== 0) status = result.status ?? 1;
}
process.exit(status);
