import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { METHODS } from 'node:http';
import type { Logger } from 'pino';
import type { AuthService } from '../auth-service.js';
import { systemClock } from '../clock.js';
import { lazyRequestLogger } from '../logger.js';
import type { TrustProxy } from '../config.js';
import { InvalidRequestError, TemporarilyUnavailableError } from '../errors.js';
import { registerConsole, SECURITY_HEADERS as CONSOLE_SECURITY_HEADERS } from '../console/plugin.js';
import { createApplicationAuthenticator, registerGateway } from '../gateway/gateway.js';
import { isRefusedTarget, toOriginForm } from '../gateway/request-target.js';
import { registerBodyParsers } from './body.js';
import { createClientErrorHandler, createErrorHandler, type UnavailabilityTest } from './errors.js';
import { closeUnfinishedConnections, createListener, hostHeaderProblem, trustedProxyTest } from './listener.js';
import { createMetrics, responseCounter, type Metrics } from './metrics.js';
import { registerCertsRoute } from './routes/certs.js';
import { registerHealthRoutes } from './routes/health.js';
import { registerIntrospectRoute } from './routes/introspect.js';
import { registerLogoutRoute } from './routes/logout.js';
import { registerMetadataRoutes } from './routes/metadata.js';
import { registerOpenApiRoute } from './routes/openapi.js';
import { registerRevokeRoute } from './routes/revoke.js';
import { registerTokenRoute } from './routes/token.js';
import { registerVerifyRoute } from './routes/verify.js';

/** Fastify's `trustProxy` for ours; a hop count as the function Fastify itself would build from it. */
function fastifyTrustProxy(trustProxy: TrustProxy): boolean | string[] | ((address: string, hop: number) => boolean) {
  if (typeof trustProxy === 'number') return (_address, hop) => hop < trustProxy;
  return trustProxy === false ? false : [...trustProxy];
}

/**
 * Fastify's log controller with request logging off, counting every answer instead: Fastify calls
 * `requestCompleted` once per answer, when it has finished, right after the `onResponse` hooks (and
 * so for every answer they would see), without the hook runner an `onResponse` hook costs each request.
 */
class ResponseCountingLogController extends LogController {
  constructor(private readonly count: (request: FastifyRequest, reply: FastifyReply) => void) {
    super({ disableRequestLogging: true });
  }

  override requestCompleted(_error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    this.count(request, reply);
  }
}

export interface AppOptions {
  /** Tells a store outage (503) from a bug (500); adapters know their driver's errors. */
  isUnavailable?: UnavailabilityTest;
  metrics?: Metrics;
}

/**
 * Builds the Fastify app: the auth routes and the gateway under the base path, health outside it
 * (metrics have a listener of their own). Every answer that is not a success has the OAuth error
 * shape, from the HTTP parser's refusals to a request that arrives while the server closes.
 */
export async function buildApp(auth: AuthService, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = auth;
  const metrics = options.metrics ?? createMetrics();
  const logger = auth.logger as FastifyBaseLogger;
  const isTrustedProxy = trustedProxyTest(config.trustProxy);
  const authenticateApplication = createApplicationAuthenticator(auth, metrics);
  const handleError = createErrorHandler(config.bodyLimit, options.isUnavailable ?? (() => false));
  const underBase = (url: string) => url === config.basePath || url.startsWith(`${config.basePath}/`) || url.startsWith(`${config.basePath}?`);
  const consolePath = config.adminConsole?.path;
  const isConsolePath = (url: string) => consolePath !== undefined && (url === consolePath || url.startsWith(`${consolePath}/`) || url.startsWith(`${consolePath}?`));
  const app = Fastify({
    loggerInstance: logger,
    logController: new ResponseCountingLogController(responseCounter(metrics, config.basePath)),
    childLoggerFactory: (parent, bindings, childOptions) => lazyRequestLogger(parent as Logger, bindings, childOptions) as FastifyBaseLogger,
    bodyLimit: config.bodyLimit,
    trustProxy: fastifyTrustProxy(config.trustProxy),
    // Answered below in the OAuth shape instead of Fastify's own.
    return503OnClosing: false,
    serverFactory: (handler) =>
      createListener(handler, { limits: config, isTrustedProxy, onRefused: (reason) => metrics.connectionsRefused.inc({ reason }) }),
    rewriteUrl: (request) => toOriginForm(request, config.basePath),
    clientErrorHandler: createClientErrorHandler(logger),
    frameworkErrors: (error, request, frameworkReply) => {
      // Fastify's router answers these before any route or error handler is chosen.
      const reply = frameworkReply as FastifyReply;
      // A console path the router cannot take (undecodable, too long) is a console answer too: never framed.
      if (isConsolePath(request.url)) reply.headers(CONSOLE_SECURITY_HEADERS);
      // A path the router cannot decode is still a path under the base: 401 before anything else.
      if (!underBase(request.url)) {
        handleError(error, request, reply);
        return;
      }
      // A promise either way: a path the router cannot take is no hot path.
      Promise.resolve()
        .then(() => authenticateApplication(request, reply))
        .then(
          (identity) => identity !== null && handleError(error, request, reply),
          (failure: unknown) => handleError(failure as FastifyError, request, reply),
        );
    },
  });
  // Every method the HTTP parser knows reaches the routes (and so the gateway's 401), not a 404.
  for (const method of METHODS) {
    if (method !== 'CONNECT' && !app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true });
  }
  if (auth.clock !== systemClock) {
    // With an injected clock, the Date header tells the same time as the tokens (clients use it
    // to correct their own clock).
    app.addHook('onSend', async (_request, reply) => {
      reply.header('date', new Date(auth.clock.now()).toUTCString());
    });
  }
  app.setErrorHandler(handleError);

  let closing = false;
  app.addHook('preClose', (done) => {
    closing = true;
    closeUnfinishedConnections(app.server, config.requestTimeoutMs);
    done();
  });
  // Synchronous (with `done`): every request passes here, and an async hook costs a promise each.
  app.addHook('onRequest', (request, reply, done) => {
    if (closing) {
      reply.header('connection', 'close');
      done(new TemporarilyUnavailableError());
      return;
    }
    const hostProblem = hostHeaderProblem(request.raw);
    if (hostProblem !== null) {
      reply.header('connection', 'close');
      done(new InvalidRequestError(hostProblem));
      return;
    }
    if (isRefusedTarget(request.raw)) {
      done(new InvalidRequestError('An absolute-form request target is accepted only under the base path'));
      return;
    }
    done();
  });

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
  await app.register((scope) => registerVerifyRoute(scope, auth, metrics), { prefix: config.basePath });
  await app.register((scope) => registerGateway(scope, auth, metrics), { prefix: config.basePath });
  registerMetadataRoutes(app, auth);
  registerHealthRoutes(app, auth);
  registerOpenApiRoute(app, auth);
  const adminConsole = config.adminConsole;
  if (adminConsole) await app.register((scope) => registerConsole(scope, auth, metrics, adminConsole), { prefix: adminConsole.path });
  app.setNotFoundHandler((_request, reply) => {
    // The path is not repeated: an answer that echoes it is a reflection vector.
    reply.code(404).send({ error: 'not_found', error_description: 'No such endpoint' });
  });
  return app;
}
