// Child process of the bench: the gateway's stack without authentication — Fastify, and an undici
// Pool of as many connections as the gateway's default, streaming every request to the upstream and
// the answer back. What the gateway is compared with: the difference is what authentication costs.
// Usage: bare-proxy.ts <upstream origin>; prints {"port":…} once listening.
import Fastify from 'fastify';
import { Pool } from 'undici';

const upstream = process.argv[2];
if (!upstream) throw new Error('usage: bare-proxy.ts <upstream origin>');
const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const app = Fastify({ logger: false });
app.all('/*', async (request, reply) => {
  const answer = await pool.request({ path: request.url, method: request.method as 'GET', headers: { accept: request.headers.accept ?? '*/*' } });
  reply.code(answer.statusCode);
  const type = answer.headers['content-type'];
  if (typeof type === 'string') reply.header('content-type', type);
  return reply.send(answer.body);
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
process.once('SIGTERM', () => void app.close().then(() => pool.close()).then(() => process.exit(0)));
