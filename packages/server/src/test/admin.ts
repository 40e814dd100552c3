import { setEnabled } from '../credentials/client-applications.js';
import { TEST_ACTOR, type Harness } from './harness.js';

/** Disables (or, with `enable`, re-enables) a client application through the same path as the CLI. */
export async function disableUser(h: Harness, username: string, enable = false): Promise<void> {
  const user = await h.server.auth.store.users.findByUsername(username);
  if (!user) throw new Error(`no user ${username}`);
  await setEnabled(h.server.auth, TEST_ACTOR, user, enable);
}
