import type { RequestContext } from '../http/context.js';
import { refusal } from './answers.js';

/**
 * Option pullLimit, Docker Hub's pull rate limit: a manifest GET counts as a
 * pull, a HEAD does not; both report `ratelimit-limit` and
 * `ratelimit-remaining` as `N;w=SECONDS` and the address counted in
 * `docker-ratelimit-source`. A GET past the limit is refused (429
 * TOOMANYREQUESTS unless `answers.pullLimit` says otherwise).
 */
export function countPull(ctx: RequestContext): Record<string, string> {
  const limiter = ctx.controls.pulls;
  if (!limiter) return {};
  const window = String(limiter.perSeconds);
  if (!ctx.head && limiter.retryAfter() !== undefined) {
    throw refusal(ctx.options, 'pullLimit', { limit: String(limiter.requests), window });
  }
  return {
    'ratelimit-limit': `${limiter.requests};w=${window}`,
    'ratelimit-remaining': `${limiter.remaining()};w=${window}`,
    'docker-ratelimit-source': ctx.req.socket.remoteAddress ?? '',
  };
}
