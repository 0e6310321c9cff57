/**
 * One client's random workload of KV get / put and slot get / CAS / upsert on a few keys, recorded as a history for
 * the linearizability checker. Times come from the system-wide monotonic clock (`process.hrtime`), so histories
 * recorded by different processes on one machine merge on one time line.
 */
import { seededRandom } from "../../examples/pipeline/random.js";
import type { Store } from "../../src/index.js";
import { utf8 } from "../../src/index.js";
import type { Operation } from "./linearizability.js";
import type { RegisterInput, RegisterOutput } from "./register-model.js";

export type RegisterOperation = Operation<RegisterInput, RegisterOutput>;

/** A small seeded PRNG (the pipeline example's mulberry32), so a failing run can be replayed from its seed. */
export const seeded = seededRandom;

const micros = (): number => Number(process.hrtime.bigint() / 1000n);

export const REGISTER_NS = "lin";
export const KV_KEYS = ["k0", "k1", "k2"];
export const SLOT_KEYS = ["s0", "s1"];

/** Runs `count` random operations one after another; a call that fails ends the workload with its error. */
export async function runRegisterWorkload(store: Store, client: number, count: number, seed: number): Promise<RegisterOperation[]> {
  const random = seeded(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const kv = store.kv(REGISTER_NS, { codec: utf8 });
  const slot = store.slot(REGISTER_NS, { codec: utf8 });
  const lastVersion = new Map<string, number>();
  const history: RegisterOperation[] = [];
  for (let i = 0; i < count; i++) {
    const value = `${client}:${i}`;
    const roll = random();
    let input: RegisterInput;
    let run: () => Promise<RegisterOutput>;
    if (roll < 0.3) {
      const key = pick(KV_KEYS);
      input = { kind: "get", key };
      run = async () => (await kv.get(key)) ?? null;
    } else if (roll < 0.55) {
      const key = pick(KV_KEYS);
      input = { kind: "put", key, value };
      run = async () => {
        await kv.put(key, value);
        return null;
      };
    } else if (roll < 0.75) {
      const key = pick(SLOT_KEYS);
      input = { kind: "slotGet", key };
      run = async () => {
        const found = await slot.get(key);
        if (found !== undefined) lastVersion.set(key, found.version);
        return found === undefined ? null : { version: found.version, value: found.value };
      };
    } else if (roll < 0.95) {
      const key = pick(SLOT_KEYS);
      // Mostly the version this client saw last (a real CAS attempt), sometimes a stale or future one.
      const seen = lastVersion.get(key) ?? 0;
      const expected = random() < 0.8 ? seen : Math.max(0, seen + Math.floor(random() * 3) - 1);
      input = { kind: "cas", key, expected, value };
      run = () => slot.cas(key, expected, value);
    } else {
      const key = pick(SLOT_KEYS);
      input = { kind: "upsert", key, value };
      run = () => slot.upsert(key, value);
    }
    const call = micros();
    const output = await run();
    history.push({ client, call, ret: micros(), input, output });
  }
  return history;
}
