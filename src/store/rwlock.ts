/**
 * A small async read/write lock. Readers share it; a writer holds it alone,
 * across awaits, so a manifest's validation and the write it guards never
 * interleave with another write. Waiting writers are served before readers
 * that arrive after them, so a stream of reads cannot starve a push.
 */
export class RwLock {
  #readers = 0;
  #writing = false;
  #queue: { write: boolean; wake: () => void }[] = [];

  async read<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#writing || this.#queue.length > 0) await new Promise<void>((wake) => this.#queue.push({ write: false, wake }));
    else this.#readers++;
    try {
      return await fn();
    } finally {
      this.#readers--;
      this.#next();
    }
  }

  async write<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#writing || this.#readers > 0 || this.#queue.length > 0) {
      await new Promise<void>((wake) => this.#queue.push({ write: true, wake }));
    } else this.#writing = true;
    try {
      return await fn();
    } finally {
      this.#writing = false;
      this.#next();
    }
  }

  /** Hands the lock to the next waiter(s): one writer, or every reader up to the next writer. */
  #next(): void {
    if (this.#writing || this.#readers > 0) return;
    const first = this.#queue[0];
    if (!first) return;
    if (first.write) {
      this.#queue.shift();
      this.#writing = true;
      first.wake();
      return;
    }
    while (this.#queue.length > 0 && !this.#queue[0]!.write) {
      this.#readers++;
      this.#queue.shift()!.wake();
    }
  }
}
