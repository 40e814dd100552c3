// Child process of the bench: the application behind the gateway and the bare proxy, an unguarded
// Fastify route answering like an application endpoint. Prints {"port":…} once listening.
import Fastify from 'fastify';

const app = Fastify({ logger: false });
app.all('/*', async (request) => ({ owner: request.headers['x-auth-subject'] ?? null, accounts: [] }));
await app.listen({ port: 0, host: '127.0.0.1' });
const address = app.server.address();
process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 })}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
