import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ResolvedOptions } from '../options.js';
import type { SeedableStore } from '../store/seeding.js';
import type { Journal } from '../control/journal.js';
import type { RegistryEvents } from '../control/events.js';
import type { Faults } from '../control/faults.js';
import type { BlobRedirects } from '../api/redirect.js';
import type { Authenticator } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import type { Route } from './route.js';
import type { RateLimiter } from './rate-limit.js';
import type { RequestNotes } from './record.js';
import type { Upstreams } from '../upstream/routing.js';

/** Everything a handler may use for one request. Handlers never touch the socket. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  /** HEAD is served by the GET handler with `head` set: same headers, no body. */
  head: boolean;
  store: SeedableStore;
  options: ResolvedOptions;
  controls: Controls;
  /** Who sent the request and what they may do (everything, without `auth`). */
  principal: Principal;
  /** `host:port` the client addressed (its Host header), for URLs the registry hands out. */
  authority: string;
  /** What the handler tells the journal about this request (e.g. how a mount went). */
  notes: RequestNotes;
}

/** The registry's test-double machinery a few handlers need (control endpoint, blob redirects). */
export interface Controls {
  journal: Journal;
  /** The registry's events: waits and streams of the control endpoint. */
  events: RegistryEvents;
  faults: Faults;
  reset(): Promise<void>;
  /** Present when `blobRedirect` is on. */
  redirects?: BlobRedirects;
  /** Present when `auth` is on. */
  auth?: Authenticator;
  /** Present when `pullLimit` is on: manifest GETs counted as pulls. */
  pulls?: RateLimiter;
  /** Present when `upstream` or `upstreams` is set: where reads the store cannot answer go. */
  upstreams?: Upstreams;
}

export type Handler = (ctx: RequestContext) => Promise<void>;
