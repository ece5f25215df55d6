import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError, unsupported } from '../oci/errors.js';
import type { ResolvedOptions } from '../options.js';
import type { Store } from '../store/store.js';
import { parseRoute, type Route, type RouteKind } from './route.js';
import { sendError, sendJson } from './reply.js';
import { RequestRecorder, type RecordListener } from './record.js';
import * as base from '../api/base.js';
import * as blobs from '../api/blobs.js';
import * as uploads from '../api/uploads.js';
import * as manifests from '../api/manifests.js';
import * as tags from '../api/tags.js';
import * as catalog from '../api/catalog.js';
import * as referrers from '../api/referrers.js';

/** Everything a handler may use for one request. Handlers never touch the socket. */
export interface RequestContext {
  req: IncomingMessage;
  res: ServerResponse;
  route: Route;
  /** HEAD is served by the GET handler with `head` set: same headers, no body. */
  head: boolean;
  store: Store;
  options: ResolvedOptions;
}

export type Handler = (ctx: RequestContext) => Promise<void>;

/** Which method each route answers (spec "Endpoints"); HEAD goes wherever GET does. */
const HANDLERS: Record<RouteKind, Partial<Record<string, Handler>>> = {
  base: { GET: base.get },
  catalog: { GET: catalog.list },
  tags: { GET: tags.list },
  manifest: { GET: manifests.get, PUT: manifests.put, DELETE: manifests.remove },
  blob: { GET: blobs.get, DELETE: blobs.remove },
  upload: { POST: uploads.start, PATCH: uploads.patch, PUT: uploads.finish, GET: uploads.status, DELETE: uploads.cancel },
  referrers: { GET: referrers.list },
};

/** The API-version header every response carries (Docker Registry HTTP API V2 compatibility). */
const API_VERSION = ['Docker-Distribution-API-Version', 'registry/2.0'] as const;

export interface Pipeline {
  (req: IncomingMessage, res: ServerResponse): void;
}

/**
 * One request: route → handler → reply. A `RegistryError` thrown anywhere is
 * written here and only here; anything else is a bug, answered 500 `UNKNOWN`
 * and reported through `onError`, and never takes the server down.
 */
export function createPipeline(store: Store, options: ResolvedOptions, onRecord?: RecordListener): Pipeline {
  return (req, res) => {
    const recorder = onRecord ? new RequestRecorder(req, res, onRecord) : undefined;
    handle(req, res, store, options, recorder).catch((error: unknown) => {
      if (recorder) recorder.code = error instanceof RegistryError ? error.code : 'UNKNOWN';
      fail(req, res, error, options);
    });
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, store: Store, options: ResolvedOptions, recorder?: RequestRecorder): Promise<void> {
  res.setHeader(API_VERSION[0], API_VERSION[1]);
  const route = parseRoute(req.url ?? '/');
  if (recorder) recorder.route = route;
  const head = req.method === 'HEAD';
  const method = head ? 'GET' : (req.method ?? 'GET');
  const handlers = HANDLERS[route.kind];
  const handler = handlers[method];
  if (!handler) {
    const allow = Object.keys(handlers).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
    throw unsupported(`${req.method} is not supported on ${route.path}`, 405, { Allow: allow });
  }
  await handler({ req, res, route, head, store, options });
}

function fail(req: IncomingMessage, res: ServerResponse, error: unknown, options: ResolvedOptions): void {
  // The client went away mid-request: there is no one to answer.
  if (req.destroyed && !req.complete && !(error instanceof RegistryError)) return;
  if (res.headersSent) {
    if (!(error instanceof RegistryError)) options.onError(error as Error);
    res.destroy();
    return;
  }
  // A body we did not read would be parsed as the next request: close instead.
  if (!req.complete) res.setHeader('Connection', 'close');
  const head = req.method === 'HEAD';
  if (error instanceof RegistryError) {
    sendError(res, error, head);
    return;
  }
  options.onError(error as Error);
  sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: 'internal error: this is a bug in oci-test-registry' }] }, {}, head);
}
