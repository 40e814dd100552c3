#!/usr/bin/env node
// The `antpeer` command. This small file is in git, so npm links the command at install time even
// though the build that makes dist/ runs later (npm links a bin only when its file exists).
import { existsSync } from 'node:fs';

const entry = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('antpeer: @antpeer/client is not built: run `npm run build` in the repository, then try again\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main();
