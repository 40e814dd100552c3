// Child process of the bench: the gateway's stack without authentication — Fastify, and an undici
// Pool of as many connections as the gateway's default, streaming every request to the upstream and
// the answer back with their headers (less the hop-by-hop ones), as any reverse proxy does. What
// the gateway is compared with: the difference is what authentication costs.
// Usage: bare-proxy.ts <upstream origin>; prints {"port":…} once listening.
import Fastify from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

const upstream = process.argv[2];
if (!upstream) throw new Error('usage: bare-proxy.ts <upstream origin>');
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function endToEnd(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const kept: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) kept[name] = value;
  return kept;
}

const pool = new Pool(upstream, { connections: 128, pipelining: 1 });
const app = Fastify({ logger: false });
app.removeAllContentTypeParsers();
app.addContentTypeParser('*', (_request, payload, done) => done(null, payload));
app.all('/*', async (request, reply) => {
  const hasBody = request.headers['content-length'] !== undefined || request.headers['transfer-encoding'] !== undefined;
  const answer = await pool.request({
    path: request.url,
    method: request.method as Dispatcher.HttpMethod,
    headers: endToEnd(request.headers),
    body: hasBody ? request.raw : null,
  });
  return reply.code(answer.statusCode).headers(endToEnd(answer.headers)).send(answer.body);
});
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
process.once('SIGTERM', () => void app.close().then(() => pool.close()).then(() => process.exit(0)));
