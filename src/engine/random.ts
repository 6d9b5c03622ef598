/** A seeded generator (mulberry32): the seed is printed, so any run can be replayed. */
export class Random {
  readonly seed: number;
  private state: number;
  constructor(seed: number) {
    this.seed = seed >>> 0;
    this.state = this.seed;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  pick<T>(items: readonly T[]): T {
    if (!items.length) throw new Error('pick from an empty list');
    return items[this.int(items.length)] as T;
  }
}

export function newSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}
