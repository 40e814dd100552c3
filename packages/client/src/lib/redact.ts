const MAX_DESCRIPTION = 200;

/**
 * Removes every known secret from a text that came from outside (a server's `error_description`),
 * and shortens it: a misbehaving server that echoes the request must not put a password or a token
 * into an error message or a log line.
 */
export function redact(text: string, secrets: Iterable<string | undefined>): string {
  let result = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) result = result.split(secret).join('[redacted]');
  }
  // Anything that looks like a JWT is a token even if we do not know it.
  result = result.replace(/\beyJ[\w-]{4,}\.[\w-]{4,}\.[\w-]*/g, '[redacted]');
  return result.length > MAX_DESCRIPTION ? `${result.slice(0, MAX_DESCRIPTION)}…` : result;
}
