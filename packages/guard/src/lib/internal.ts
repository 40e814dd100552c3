/**
 * Symbols shared between the package's modules and never exported from its entry point, so that the
 * Fastify plugin and the node middleware can reach the verifier's synchronous cache lookup without
 * making it public API.
 */
export const kPeek: unique symbol = Symbol('antpeer.guard.peek');
