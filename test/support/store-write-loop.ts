import type { Store } from '@kvmservice/store';

export interface Acked {
  key: string;
  value: string;
  revision: number;
}

/** Puts unique keys from `writers` loops until stopped; every acknowledged write is recorded in order. */
export function writeLoop(store: Store, writers: number): { acked: Acked[]; stop: () => Promise<void> } {
  const acked: Acked[] = [];
  let running = true;
  const loops = Array.from({ length: writers }, async (_, w) => {
    for (let n = 0; running; n++) {
      const key = `/loop/w${w}/${String(n).padStart(6, '0')}`;
      const value = `value of ${key}`;
      const kv = await store.put(key, value);
      acked.push({ key, value, revision: kv.modRevision });
    }
  });
  return {
    acked,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}
