/**
 * Where a worker thread starts: the compiled module beside the caller (`<name>.js`); or, when the
 * caller runs from its TypeScript source (tests, benchmarks), the TypeScript module loaded through
 * tsx, which a worker thread does not inherit from `--import tsx`.
 */
export function workerEntry(callerUrl: string, name: string): { filename: URL | string; eval: boolean } {
  if (!callerUrl.endsWith('.ts')) return { filename: new URL(`./${name}.js`, callerUrl), eval: false };
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const worker = JSON.stringify(new URL(`./${name}.ts`, callerUrl).href);
  return { filename: `import(${tsx}).then((tsx) => { tsx.register(); return import(${worker}); });`, eval: true };
}
