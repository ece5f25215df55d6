import type { ServerResponse } from 'node:http';

/** What the upstream did for one request (journal fields `upstream`, `upstreamStatus`, `upstreamMs`). */
export interface UpstreamOutcome {
  /** `hit`: served from the mirror's own store; `miss`: read from the upstream; `error`: the upstream failed. */
  upstream: 'hit' | 'miss' | 'error';
  /** The upstream's status (absent on a hit, or when it could not be reached). */
  upstreamStatus?: number;
  /** Time spent waiting for the upstream's answer headers. */
  upstreamMs?: number;
}

// Keyed by the response so that handlers say what happened without knowing the recorder.
const outcomes = new WeakMap<ServerResponse, UpstreamOutcome>();

export function noteUpstream(res: ServerResponse, outcome: UpstreamOutcome): void {
  outcomes.set(res, outcome);
}

export function upstreamOutcome(res: ServerResponse): UpstreamOutcome | undefined {
  return outcomes.get(res);
}
