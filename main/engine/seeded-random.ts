/**
 * A seeded pseudo-random generator (mulberry32), for whatever must be random yet reproducible: the re-split runs
 * of a decode (resplit.ts) and the tests' shuffled captures. Pure: the same seed gives the same numbers.
 */

/**
 * Returns a generator of numbers in [0, 1) seeded with `seed` (its low 32 bits). Small, fast and good enough to pick
 * cut points or shuffle; not for anything secret.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}
