import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { AuthService } from '../auth-service.js';
import { systemClock } from '../clock.js';
import { registerGateway } from '../gateway/gateway.js';
import { registerBodyParsers } from './body.js';
import { createErrorHandler, type UnavailabilityTest } from './errors.js';
import { createMetrics, type Metrics } from './metrics.js';
import { registerCertsRoute } from './routes/certs.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerIntrospectRoute } from './routes/introspect.js';
import { registerLogoutRoute } from './routes/logout.js';
import { registerMetadataRoutes } from './routes/metadata.js';
import { registerMetricsRoute } from './routes/metrics.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerRevokeRoute } from './routes/revoke.js';
import { registerTokenRoute } from './routes/token.js';
import { registerVerifyRoute } from './routes/verify.js';

export interface AppOptions {
  /** Tells a store outage (503) from a bug (500); adapters know their driver's errors. */
  isUnavailable?: UnavailabilityTest;
  metrics?: Metrics;
}

/** Builds the Fastify app: the auth routes under the base path, health and metrics outside it. */
export async function buildApp(auth: AuthService, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = auth;
  const metrics = options.metrics ?? createMetrics();
  const app = Fastify({
    loggerInstance: auth.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimit,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
  });
  if (auth.clock !== systemClock) {
    // With an injected clock, the Date header tells the same time as the tokens (clients use it
    // to correct their own clock).
    app.addHook('onSend', async (_request, reply) => {
      reply.header('date', new Date(auth.clock.now()).toUTCString());
    });
  }
  app.setErrorHandler(createErrorHandler(config.bodyLimit, options.isUnavailable ?? (() => false)));

  await app.register(
    async (scope) => {
      registerBodyParsers(scope);
      registerTokenRoute(scope, auth, metrics);
      registerLogoutRoute(scope, auth);
      registerRevokeRoute(scope, auth);
      registerIntrospectRoute(scope, auth);
      registerCertsRoute(scope, auth);
    },
    { prefix: config.basePath },
  );
  await app.register((scope) => registerVerifyRoute(scope, auth), { prefix: config.basePath });
  await app.register((scope) => registerGateway(scope, auth), { prefix: config.basePath });
  registerMetadataRoutes(app, auth);
  registerHealthRoutes(app, auth);
  registerOpenApiRoute(app, auth);
  registerMetricsRoute(app, metrics);
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send({ error: 'not_found', error_description: `No route for ${request.method} ${request.url.split('?')[0]}` });
  });
  return app;
}
