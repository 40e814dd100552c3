import type { AuthService } from './auth-service.js';
import { addClientApplication } from './credentials/client-applications.js';
import { UsernameTakenError } from './store/port.js';

/** What start-up did about the first client application. */
export type BootstrapResult =
  | { created: false }
  | { created: true; username: string; generatedPassword: string | null };

/**
 * Creates the first client application: the one named by ANTPEER_BOOTSTRAP_USERNAME if it does
 * not exist yet, else `antpeer-client` with a generated password when there is no user at all.
 * A generated password is returned once, to be shown once; it is stored only as a hash.
 */
export async function bootstrapClientApplication(auth: AuthService): Promise<BootstrapResult> {
  const { bootstrapUsername, bootstrapPassword } = auth.config;
  if (bootstrapUsername === null && (await auth.store.countUsers()) > 0) return { created: false };
  const username = bootstrapUsername ?? 'antpeer-client';
  if (await auth.store.findUserByUsername(username)) return { created: false };
  try {
    const { generatedPassword } = await addClientApplication(auth, username, bootstrapPassword ?? undefined);
    return { created: true, username, generatedPassword };
  } catch (error) {
    // Another instance starting at the same moment created it first.
    if (error instanceof UsernameTakenError) return { created: false };
    throw error;
  }
}
