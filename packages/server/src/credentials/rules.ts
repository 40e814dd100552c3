/** What a username must look like; said in errors. */
export const USERNAME_RULE = 'must be 1 to 128 printable characters without spaces';
/** What a password must look like; said in errors. */
export const PASSWORD_RULE = 'must be 12 to 1024 characters';
/** The longest username a client application can have; a login naming a longer one is refused before any work. */
export const MAX_USERNAME_LENGTH = 128;

/** Whether `name` is acceptable as a client application's username. */
export function isValidUsername(name: string): boolean {
  return /^[\x21-\x7e\u00a1-\uffff]{1,128}$/u.test(name);
}

/** Whether `password` is acceptable for a new client application. */
export function isValidPassword(password: string): boolean {
  return password.length >= 12 && password.length <= 1024;
}
