// Child process of token.ts: the raw argon2id verify rate, in-process, with as many
// verifications in flight as the libuv threadpool has threads (what the server can use).
// Usage: argon2-rate.ts '<params json>' — then, for each line "measure <seconds>" on stdin, it
// measures for that long and prints one JSON line; it is idle in between, and exits when stdin ends.
import argon2 from 'argon2';
import { createInterface } from 'node:readline';

interface Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

const params = JSON.parse(process.argv[2] ?? '{}') as Params;
const concurrency = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const password = 'argon2 bench password, long enough';
const hash = await argon2.hash(password, { type: argon2.argon2id, ...params });

async function run(ms: number): Promise<{ count: number; elapsed: number }> {
  const start = performance.now();
  const deadline = start + ms;
  let count = 0;
  const lane = async () => {
    while (performance.now() < deadline) {
      if (!(await argon2.verify(hash, password))) throw new Error('argon2 verify returned false');
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return { count, elapsed: (performance.now() - start) / 1000 };
}

await run(1000); // warm-up: page in the memory, spin up the threadpool
process.stdout.write(`${JSON.stringify({ ready: true, concurrency })}\n`);

for await (const line of createInterface({ input: process.stdin })) {
  const match = /^measure (\d+(?:\.\d+)?)$/.exec(line.trim());
  if (!match) throw new Error(`argon2-rate: unexpected command ${line}`);
  const { count, elapsed } = await run(Number(match[1]) * 1000);
  process.stdout.write(`${JSON.stringify({ rate: count / elapsed, count, elapsed, concurrency })}\n`);
}
