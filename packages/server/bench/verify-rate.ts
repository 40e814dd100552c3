// Child process of password.ts and token.ts: the raw argon2id verify rate of one Node binding, in-process, with
// as many verifications in flight as the libuv threadpool has threads (both bindings' async
// verify runs there): what a plain program using that binding gets from this machine.
// Usage: verify-rate.ts <node-rs|argon2> '<params json>' — then, for each line "measure <seconds>"
// on stdin, it measures for that long and prints one JSON line; idle in between; exits when stdin ends.
import { hash as rsHash, verify as rsVerify } from '@node-rs/argon2';
import argon2 from 'argon2';
import { createInterface } from 'node:readline';

interface Params {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

const binding = process.argv[2];
const params = JSON.parse(process.argv[3] ?? '{}') as Params;
const concurrency = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
const password = 'argon2 bench password, long enough';

let verify: () => Promise<boolean>;
if (binding === 'node-rs') {
  // algorithm 2 = Argon2id (an ambient const enum in the binding's types)
  const stored = await rsHash(password, { ...params, algorithm: 2 });
  verify = () => rsVerify(stored, password);
} else if (binding === 'argon2') {
  const stored = await argon2.hash(password, { type: argon2.argon2id, ...params });
  verify = () => argon2.verify(stored, password);
} else {
  throw new Error(`verify-rate: binding must be node-rs or argon2, got ${binding}`);
}

async function run(ms: number): Promise<{ count: number; elapsed: number }> {
  const start = performance.now();
  const deadline = start + ms;
  let count = 0;
  const lane = async () => {
    while (performance.now() < deadline) {
      if (!(await verify())) throw new Error(`${binding} verify returned false`);
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
  if (!match) throw new Error(`verify-rate: unexpected command ${line}`);
  const { count, elapsed } = await run(Number(match[1]) * 1000);
  process.stdout.write(`${JSON.stringify({ rate: count / elapsed, count, elapsed, concurrency })}\n`);
}
