/**
 * The fuzz property over every route: for any generated request, {@link FuzzTarget.run} finds
 * nothing. Run with fast-check for a seed and a number of cases; a failure is shrunk to the
 * smallest request that still breaks an invariant and reported with its seed and path so that
 * `--seed` and `--path` replay it. Counterexamples hold references to secrets, never secrets.
 */
import fc from 'fast-check';
import type { FuzzRequest, RouteName } from './model.js';
import { fuzzRequestArb } from './requests.js';
import { startFuzzTarget, type StoreKind } from './target.js';

export interface FuzzOptions {
  store: StoreKind;
  seed: number;
  runs: number;
  /** Replays one failure: the path fast-check printed with it. */
  path?: string;
  /** Called every `progressEvery` cases with how many ran. */
  onProgress?: (done: number) => void;
  progressEvery?: number;
}

export interface FuzzReport {
  store: StoreKind;
  seed: number;
  /** Cases run before the first failure (all of them when none failed). */
  runs: number;
  durationMs: number;
  /** How many answers of each status each route got, over the cases run (shrinking excluded). */
  statuses: Record<string, Record<number, number>>;
  /** How many audit events of each type the cases caused (what changed state, and how). */
  events: Record<string, number>;
  /** Like {@link statuses}, for the requests that carried a DPoP proof signed by the fuzzer. */
  proofs: Record<string, Record<number, number>>;
  /** How many answers gave each OAuth error code (`invalid_grant`, `use_dpop_nonce`, …). */
  errors: Record<string, number>;
  failure: { path: string; counterexample: string; findings: string } | null;
}

/** Longest a case may take, the one that hangs included. */
const CASE_TIMEOUT_MS = 30_000;

/** Runs the fuzz property on a fresh target over `options.store`. */
export async function runFuzz(options: FuzzOptions): Promise<FuzzReport> {
  const target = await startFuzzTarget(options.store);
  const statuses: Record<string, Record<number, number>> = {};
  const events: Record<string, number> = {};
  const proofs: Record<string, Record<number, number>> = {};
  const errors: Record<string, number> = {};
  let done = 0;
  let shrinking = false;
  const started = performance.now();
  try {
    const property = fc.asyncProperty(fuzzRequestArb, async (request: FuzzRequest) => {
      const { status, error, events: caused, findings } = await target.run(request);
      if (!shrinking) {
        const route: RouteName = request.route;
        const counts = (statuses[route] ??= {});
        counts[status] = (counts[status] ?? 0) + 1;
        for (const type of caused) events[type] = (events[type] ?? 0) + 1;
        if (error !== null) errors[error] = (errors[error] ?? 0) + 1;
        if (request.headers.some(([, text]) => text.some((piece) => typeof piece === 'object' && 'proof' in piece))) {
          const proved = (proofs[route] ??= {});
          proved[status] = (proved[status] ?? 0) + 1;
        }
        done += 1;
        if (options.onProgress && done % (options.progressEvery ?? 10_000) === 0) options.onProgress(done);
      }
      if (findings.length > 0) {
        shrinking = true;
        throw new Error(findings.join('\n'));
      }
    });
    const details = await fc.check(property, {
      seed: options.seed,
      numRuns: options.runs,
      timeout: CASE_TIMEOUT_MS,
      ...(options.path ? { path: options.path } : {}),
    });
    const failure = details.failed
      ? {
          path: details.counterexamplePath ?? '',
          counterexample: fc.stringify(details.counterexample?.[0]),
          findings: details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance),
        }
      : null;
    return { store: options.store, seed: options.seed, runs: done, durationMs: performance.now() - started, statuses, events, proofs, errors, failure };
  } finally {
    await target.close();
  }
}

/** A report as lines for a terminal. */
export function formatReport(report: FuzzReport): string {
  const lines = [
    `${report.store}: ${report.failure ? 'FAILED' : 'passed'} — seed ${report.seed}, ${report.runs} cases in ${(report.durationMs / 1000).toFixed(1)} s (${Math.round(report.runs / (report.durationMs / 1000))}/s)`,
  ];
  for (const [route, counts] of Object.entries(report.statuses).sort()) {
    lines.push(`  ${route.padEnd(11)} ${Object.entries(counts).map(([status, count]) => `${status}×${count}`).join(' ')}`);
  }
  const events = Object.entries(report.events).sort();
  if (events.length > 0) lines.push(`  audit      ${events.map(([type, count]) => `${type}×${count}`).join(' ')}`);
  for (const [route, counts] of Object.entries(report.proofs).sort()) {
    lines.push(`  DPoP ${route.padEnd(6)} ${Object.entries(counts).map(([status, count]) => `${status}×${count}`).join(' ')}`);
  }
  const errors = Object.entries(report.errors).sort();
  if (errors.length > 0) lines.push(`  errors     ${errors.map(([code, count]) => `${code}×${count}`).join(' ')}`);
  if (report.failure) {
    lines.push(
      `  counterexample (replay: --store ${report.store} --seed ${report.seed} --path ${report.failure.path}):`,
      `    ${report.failure.counterexample}`,
      '  broke:',
      ...report.failure.findings.split('\n').map((finding) => `    - ${finding}`),
    );
  }
  return lines.join('\n');
}
