import type { FastifyInstance } from 'fastify';
import type { AuthService } from '../../auth-service.js';
import { buildOpenApiDocument } from '../openapi.js';

/** `GET /openapi.json`: the OpenAPI 3.1 description of every route, outside the base like `/healthz`. */
export function registerOpenApiRoute(app: FastifyInstance, auth: AuthService): void {
  const document = JSON.stringify(buildOpenApiDocument(auth.config));
  app.get('/openapi.json', async (_request, reply) => {
    reply.header('content-type', 'application/json; charset=utf-8').header('cache-control', 'public, max-age=300');
    return document;
  });
}
