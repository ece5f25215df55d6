/**
 * The global `rateLimit` option: at most `requests` in each window of
 * `perSeconds`; past it, 429 with Retry-After saying when the window ends.
 */
export class RateLimiter {
  #windowStart = 0;
  #count = 0;

  constructor(readonly requests: number, readonly perSeconds: number) {}

  /** Undefined when the request may go on, else the seconds to wait. */
  retryAfter(now = Date.now()): number | undefined {
    const windowMs = this.perSeconds * 1000;
    if (now - this.#windowStart >= windowMs) {
      this.#windowStart = now;
      this.#count = 0;
    }
    this.#count++;
    if (this.#count <= this.requests) return undefined;
    return Math.max(1, Math.ceil((this.#windowStart + windowMs - now) / 1000));
  }
}
