import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth-service.js';

const WELL_KNOWN = '/.well-known/oauth-authorization-server';

/**
 * RFC 8414 authorization server metadata, with the non-standard `not_before_policy` (epoch
 * seconds; what verifiers such as the guard read to refuse tokens issued before it). Served at the
 * path RFC 8414 §3.1 prescribes (well-known inserted before the issuer's path) and under the base.
 */
export function registerMetadataRoutes(app: FastifyInstance, auth: AuthService): void {
  const { issuer, basePath } = auth.config;
  const issuerPath = new URL(issuer).pathname.replace(/\/$/, '');
  const paths = new Set([`${WELL_KNOWN}${issuerPath}`, `${WELL_KNOWN}${basePath}`, `${basePath}${WELL_KNOWN}`]);
  for (const path of paths) {
    app.get(path, async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=10');
      return {
        issuer,
        token_endpoint: `${issuer}/auth/token`,
        jwks_uri: `${issuer}/auth/certs`,
        revocation_endpoint: `${issuer}/auth/revoke`,
        introspection_endpoint: `${issuer}/auth/introspect`,
        end_session_endpoint: `${issuer}/auth/logout`,
        grant_types_supported: ['password', 'refresh_token'],
        response_types_supported: [],
        scopes_supported: [],
        token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
        revocation_endpoint_auth_methods_supported: ['none'],
        introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'bearer'],
        access_token_signing_alg_values_supported: [auth.keys.signingKey().alg],
        dpop_signing_alg_values_supported: auth.config.dpop.algorithms,
        not_before_policy: Math.ceil((await auth.store.settings.getRealmNotBefore()) / 1000),
      };
    });
  }
}
