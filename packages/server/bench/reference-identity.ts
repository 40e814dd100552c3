/** The client and user the @node-oauth/oauth2-server reference seeds (shared by token.ts and the reference). */
export const REFERENCE_CLIENT = Object.freeze({ id: 'bench-client', secret: 'bench-client-secret' });
export const REFERENCE_USER = Object.freeze({ username: 'bench-user', password: 'bench-user-password' });
