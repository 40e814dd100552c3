import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

test('the core imports no node: module and no package, so it runs wherever fetch does', () => {
  const seen = new Set<string>();
  const visit = (file: string): void => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(file, 'utf8');
    for (const [, specifier = ''] of source.matchAll(/(?:import|export)[^'"]*?from\s+'([^']+)'/g)) {
      assert.ok(specifier.startsWith('.'), `${file.slice(here.length)} imports ${specifier}`);
      visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
    }
  };
  visit(join(here, 'index.ts'));
  assert.ok(seen.size > 5);
});
