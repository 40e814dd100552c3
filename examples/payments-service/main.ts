/**
 * Runs the example service: `ANTPEER_ISSUER=http://127.0.0.1:8080/bankit-api/antPeer/v1 PORT=3000
 * node --import tsx examples/payments-service/main.ts`, then start the token service with
 * `ANTPEER_UPSTREAM=http://127.0.0.1:3000 ANTPEER_UPSTREAM_FORWARD_AUTHORIZATION=true` (the service
 * verifies the token itself, so it needs the caller's Authorization header).
 */
import { buildPaymentsService } from './app.js';

const issuer = process.env.ANTPEER_ISSUER ?? 'http://127.0.0.1:8080/bankit-api/antPeer/v1';
const app = await buildPaymentsService({ issuer });
await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' });
process.stdout.write(`payments service on ${app.server.address() ? JSON.stringify(app.server.address()) : ''}\n`);
