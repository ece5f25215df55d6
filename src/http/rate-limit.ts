/**
 * At most `requests` in each window of `perSeconds`: the global `rateLimit`
 * option (past it, 429 with Retry-After saying when the window ends) and
 * Docker Hub's `pullLimit` (which also reports what is left).
 */
export class RateLimiter {
  #windowStart = 0;
  #count = 0;

  constructor(readonly requests: number, readonly perSeconds: number) {}

  #roll(now: number): void {
    if (now - this.#windowStart >= this.perSeconds * 1000) {
      this.#windowStart = now;
      this.#count = 0;
    }
  }

  /** Counts one request: undefined when it may go on, else the seconds to wait. */
  retryAfter(now = Date.now()): number | undefined {
    this.#roll(now);
    this.#count++;
    if (this.#count <= this.requests) return undefined;
    return Math.max(1, Math.ceil((this.#windowStart + this.perSeconds * 1000 - now) / 1000));
  }

  /** Requests left in the current window, counting nothing. */
  remaining(now = Date.now()): number {
    this.#roll(now);
    return Math.max(0, this.requests - this.#count);
  }
}
