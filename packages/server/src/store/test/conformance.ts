/**
 * The one test suite every Store adapter must pass (DESIGN §3), split like the port: one
 * describe-function per part. It speaks only the port, so the SQLite and PostgreSQL adapters (and
 * any other) are held to the same contract, unchanged. Call it from the adapter's test file:
 *
 * ```ts
 * describeStoreConformance('my adapter', async () => {
 *   const store = new MyStore(...);               // fresh and empty; the suite migrates it
 *   return { store, cleanup: () => store.close(), reopen: async () => new MyStore(...) };
 * });
 * ```
 *
 * `open` is called before every test. Every time is passed in explicitly (from a fixed instant in
 * 2031): nothing here sleeps or reads the clock.
 */
import { describe } from 'node:test';
import { describeAdminStore } from './admins.js';
import { describeAuditStore } from './audit.js';
import { describeCounterStore } from './counters.js';
import type { OpenStore } from './harness.js';
import { describeKeyStore } from './keys.js';
import { describeMaintenance } from './maintenance.js';
import { describeSessionChanges } from './session-changes.js';
import { describeSessionStore } from './sessions.js';
import { describeSettingsStore } from './settings.js';
import { describeUserStore } from './users.js';

export type { OpenStore, OpenedStore } from './harness.js';
export {
  describeAdminStore,
  describeAuditStore,
  describeCounterStore,
  describeKeyStore,
  describeMaintenance,
  describeSessionChanges,
  describeSessionStore,
  describeSettingsStore,
  describeUserStore,
};

/** Runs every part's suite against the stores `open` returns. */
export function describeStoreConformance(name: string, open: OpenStore): void {
  describe(`Store conformance: ${name}`, () => {
    describeMaintenance(open);
    describeUserStore(open);
    describeSessionStore(open);
    describeSessionChanges(open);
    describeKeyStore(open);
    describeSettingsStore(open);
    describeCounterStore(open);
    describeAuditStore(open);
    describeAdminStore(open);
  });
}
