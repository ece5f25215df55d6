/**
 * A small async read/write lock. Readers share it; a writer holds it alone,
 * across awaits, so a manifest's validation and the write it guards never
 * interleave with another write. Waiting writers are served before readers
 * that arrive after them, so a stream of reads cannot starve a push.
 *
 * A free lock runs `fn` at once, and a synchronous `fn` (most store
 * operations) gives the lock back before `read` or `write` returns: no
 * await is spent on a lock nobody else wants.
 */
export class RwLock {
  #readers = 0;
  #writing = false;
  #queue: { write: boolean; wake: () => void }[] = [];

  read<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#writing || this.#queue.length > 0) {
      return new Promise<void>((wake) => this.#queue.push({ write: false, wake })).then(() => this.#run(fn, this.#readDone));
    }
    this.#readers++;
    return this.#run(fn, this.#readDone);
  }

  write<T>(fn: () => T | Promise<T>): Promise<T> {
    if (this.#writing || this.#readers > 0 || this.#queue.length > 0) {
      // #next hands the lock over (sets #writing) before it wakes a writer.
      return new Promise<void>((wake) => this.#queue.push({ write: true, wake })).then(() => this.#run(fn, this.#writeDone));
    }
    this.#writing = true;
    return this.#run(fn, this.#writeDone);
  }

  /** Runs `fn` holding the lock, and calls `release` once it has returned or settled. */
  #run<T>(fn: () => T | Promise<T>, release: () => void): Promise<T> {
    let result: T | Promise<T>;
    try {
      result = fn();
    } catch (error) {
      release();
      return Promise.reject(error);
    }
    if (!(result instanceof Promise)) {
      release();
      return Promise.resolve(result);
    }
    return result.finally(release);
  }

  readonly #readDone = (): void => {
    this.#readers--;
    this.#next();
  };

  readonly #writeDone = (): void => {
    this.#writing = false;
    this.#next();
  };

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
