/**
 * An example AntPeer application service: two payments-style endpoints behind the guard's Fastify
 * plugin. Every route needs a valid access token unless it says `config: { auth: false }`. It runs
 * behind the `antpeer-auth` gateway (which also passes the verified identity as X-Auth-* headers)
 * or on its own.
 */
import { antpeerGuard, createVerifier, type Verifier } from '@antpeer/guard';
import Fastify, { type FastifyInstance } from 'fastify';

export interface PaymentsServiceOptions {
  /** The token service's issuer, e.g. `http://127.0.0.1:8080/bankit-api/antPeer/v1`. */
  issuer: string;
  /** Defaults to the issuer, as the token service's own default audience. */
  audience?: string;
  verifier?: Verifier;
}

interface Account {
  accountNumber: string;
  bankCode: string;
  owner: string;
}

/** Builds the service; `listen` it or `inject` into it. */
export async function buildPaymentsService(options: PaymentsServiceOptions): Promise<FastifyInstance> {
  const verifier =
    options.verifier ?? createVerifier({ issuer: options.issuer, audience: options.audience ?? options.issuer });
  const app = Fastify();
  await app.register(antpeerGuard, { verifier });
  const accounts = new Map<string, Account[]>();

  app.get('/health', { config: { auth: false } }, async () => ({ status: 'ok' }));

  app.post<{ Body: { accountNumber?: unknown; bankCode?: unknown } }>(
    '/user/addAccount',
    {
      schema: {
        body: {
          type: 'object',
          required: ['accountNumber', 'bankCode'],
          properties: {
            accountNumber: { type: 'string', pattern: '^[0-9]{10}$' },
            bankCode: { type: 'string', pattern: '^[0-9]{3}$' },
          },
        },
      },
    },
    async (request, reply) => {
      const owner = request.auth.username;
      const account = { accountNumber: String(request.body.accountNumber), bankCode: String(request.body.bankCode), owner };
      accounts.set(owner, [...(accounts.get(owner) ?? []), account]);
      reply.code(201);
      return {
        account,
        // What the service knows about its caller: from the token it verified itself, and from
        // the gateway's headers when it runs behind one.
        verifiedBy: { guard: request.auth.subject, gateway: request.headers['x-auth-subject'] ?? null },
        session: request.auth.sessionId,
      };
    },
  );

  app.get('/user/accounts', async (request) => ({ accounts: accounts.get(request.auth.username) ?? [] }));
  return app;
}
