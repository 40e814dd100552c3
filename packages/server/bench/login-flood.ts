// Child process of password.ts: a flood of wrong logins, in a process of its own so that its load
// generation never delays the latency client. Password grants for random usernames from random
// addresses (X-Forwarded-For in 10/8, so each address sends a handful at most and no per-source
// limit trips), at a fixed overall rate.
// Usage: login-flood.ts <token url> — then, for each line "flood <rate> <seconds>" on stdin, it
// floods for that long and prints one JSON line (answers by status); exits when stdin ends.
import autocannon from 'autocannon';
import { randomBytes, randomInt } from 'node:crypto';
import { createInterface } from 'node:readline';

const url = process.argv[2];
if (!url) throw new Error('login-flood: the token URL is required');

const randomAddress = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

async function flood(perSecond: number, seconds: number) {
  const result = await autocannon({
    url: url as string,
    connections: Math.min(200, Math.ceil(perSecond / 2)),
    overallRate: perSecond,
    duration: seconds,
    timeout: 30,
    requests: [
      {
        method: 'POST',
        setupRequest: (request: autocannon.Request) => {
          request.headers = { 'content-type': 'application/json', 'x-forwarded-for': randomAddress() };
          request.body = JSON.stringify({ username: `nobody-${randomBytes(6).toString('hex')}`, password: randomBytes(12).toString('base64') });
          return request;
        },
      },
    ],
  });
  const statuses: Record<string, number> = {};
  for (const [code, stat] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = stat.count ?? 0;
  return { statuses, errors: result.errors, timeouts: result.timeouts, duration: result.duration };
}

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  const match = /^flood (\d+(?:\.\d+)?) (\d+(?:\.\d+)?)$/.exec(line.trim());
  if (!match) throw new Error(`login-flood: unexpected command ${line}`);
  process.stdout.write(`${JSON.stringify(await flood(Number(match[1]), Number(match[2])))}\n`);
}
