import { describe, expect, it } from 'vitest';
import { lazyPort } from '../src/lazy-port.js';

interface Port {
  add(a: number, b: number): Promise<number>;
}

describe('lazyPort', () => {
  it('waits for the implementation, then calls it with its own this', async () => {
    let resolve!: (p: Port) => void;
    const port = lazyPort(new Promise<Port>((r) => (resolve = r)));
    const pending = port.add(2, 3);
    resolve({ offset: 10, async add(a: number, b: number) { return a + b + this.offset; } } as Port & { offset: number });
    await expect(pending).resolves.toBe(15);
  });

  it('a failed load fails each call with the loading error', async () => {
    const port = lazyPort<Port>(Promise.reject(new Error('cannot load the SDK')));
    await expect(port.add(1, 1)).rejects.toThrow('cannot load the SDK');
  });
});
