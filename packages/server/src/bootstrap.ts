import type { Config } from './config.js';
import { addClientApplication, type ClientApplicationDeps } from './credentials/client-applications.js';
import { UsernameTakenError } from './store/port.js';

/** What start-up did about the first client application. */
export type BootstrapResult =
  | { created: false }
  | { created: true; username: string; generatedPassword: string | null };

const STARTUP = { name: 'server start-up (ANTPEER_BOOTSTRAP_USERNAME)', sourceAddress: '', userAgent: '' };

/**
 * Creates the first client application: the one named by ANTPEER_BOOTSTRAP_USERNAME if it does
 * not exist yet, else `antpeer-client` with a generated password when there is no user at all.
 * A generated password is returned once, to be shown once; it is stored only as a hash.
 */
export async function bootstrapClientApplication(
  deps: ClientApplicationDeps & { config: Pick<Config, 'bootstrapUsername' | 'bootstrapPassword'> },
): Promise<BootstrapResult> {
  const { bootstrapUsername, bootstrapPassword } = deps.config;
  if (bootstrapUsername === null && (await deps.store.users.count()) > 0) return { created: false };
  const username = bootstrapUsername ?? 'antpeer-client';
  if (await deps.store.users.findByUsername(username)) return { created: false };
  try {
    const { generatedPassword } = await addClientApplication(deps, STARTUP, username, bootstrapPassword ?? undefined);
    return { created: true, username, generatedPassword };
  } catch (error) {
    // Another instance starting at the same moment created it first.
    if (error instanceof UsernameTakenError) return { created: false };
    throw error;
  }
}
