/** What the upstream did for one request (journal fields `upstream`, `upstreamStatus`, `upstreamMs`). */
export interface UpstreamOutcome {
  /** `hit`: served from the mirror's own store; `miss`: read from the upstream; `error`: the upstream failed. */
  upstream: 'hit' | 'miss' | 'error';
  /** The upstream's status (absent on a hit, or when it could not be reached). */
  upstreamStatus?: number;
  /** Time spent waiting for the upstream's answer headers. */
  upstreamMs?: number;
}
