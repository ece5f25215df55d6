import type { IncomingMessage, ServerResponse } from 'node:http';
import { RegistryError, unsupported } from '../oci/errors.js';
import type { ResolvedOptions } from '../options.js';
import type { SeedableStore } from '../store/seeding.js';
import { checkRoute, notFound, parseRoute, type Route, type RouteKind } from './route.js';
import { sendError, sendJson } from './reply.js';
import { RequestRecorder, type RecordListener } from './record.js';
import { drain } from './body.js';
import { clientGone, closeAfterAnswer, requestAuthority } from './connection.js';
import { RateLimiter } from './rate-limit.js';
import { NOBODY_CHECKS } from '../auth/principal.js';
import type { Controls, Handler } from './context.js';
import * as base from '../api/base.js';
import * as blobs from '../api/blobs.js';
import * as uploads from '../api/uploads.js';
import * as manifests from '../api/manifests.js';
import * as tags from '../api/tags.js';
import * as catalog from '../api/catalog.js';
import * as referrers from '../api/referrers.js';


/**
 * A handler whose module is loaded on first use: the token, control and
 * redirect routes serve options that are off by default, so start-up does
 * not pay for them.
 */
function lazy<M>(load: () => Promise<M>, pick: (module: M) => Handler): Handler {
  let handler: Promise<Handler> | undefined;
  return async (ctx) => (await (handler ??= load().then(pick)))(ctx);
}

/** Which method each route answers (spec "Endpoints"); HEAD goes wherever GET does. */
const HANDLERS: Record<RouteKind, Partial<Record<string, Handler>>> = {
  base: { GET: base.get },
  catalog: { GET: catalog.list },
  tags: { GET: tags.list },
  manifest: { GET: manifests.get, PUT: manifests.put, DELETE: manifests.remove },
  blob: { GET: blobs.get, DELETE: blobs.remove },
  upload: { POST: uploads.start, PATCH: uploads.patch, PUT: uploads.finish, GET: uploads.status, DELETE: uploads.cancel },
  referrers: { GET: referrers.list },
  redirect: { GET: lazy(() => import('../api/redirect.js'), (m) => m.get) },
  control: {
    // The control routes have their own table (src/control/openapi.ts): each method goes to it.
    GET: lazy(() => import('../api/control.js'), (m) => m.serve),
    POST: lazy(() => import('../api/control.js'), (m) => m.serve),
    DELETE: lazy(() => import('../api/control.js'), (m) => m.serve),
  },
  token: { GET: lazy(() => import('../api/token.js'), (m) => m.get), POST: lazy(() => import('../api/token.js'), (m) => m.post) },
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
export function createPipeline(store: SeedableStore, options: ResolvedOptions, controls: Controls, onRecord?: RecordListener): Pipeline {
  const limiter = options.rateLimit && new RateLimiter(options.rateLimit.requests, options.rateLimit.perSeconds);
  if (options.pullLimit) controls.pulls = new RateLimiter(options.pullLimit.requests, options.pullLimit.perSeconds);
  // spec "Warnings": warn-code 299, warn-agent "-", no date.
  const warnings = options.warnings.map((text) => `299 - "${text}"`);
  // Auth and blob redirects are built on the first request, loading their modules only when their option is on.
  let optional: Promise<void> | undefined;
  // URLs the registry hands out (token realm, blob redirects) use the scheme it serves.
  const scheme = options.tls ? 'https' : 'http';
  const loadOptional = async () => {
    if (options.auth) {
      const { Authenticator } = await import('../auth/authenticate.js');
      controls.auth = new Authenticator(options.auth, options, scheme);
    }
    if (options.blobRedirect) {
      const { BlobRedirects } = await import('../api/redirect.js');
      controls.redirects = new BlobRedirects(options.blobRedirect === true ? {} : options.blobRedirect, scheme);
    }
    if (mirrored) {
      const { Upstreams } = await import('../upstream/routing.js');
      controls.upstreams = new Upstreams(options, store);
    }
  };
  const mirrored = options.upstream !== undefined || Object.keys(options.upstreams ?? {}).length > 0;
  const ready = options.auth || options.blobRedirect || mirrored ? () => (optional ??= loadOptional()) : undefined;
  const deps: Deps = { store, options, controls, limiter, warnings, ready };
  return (req, res) => {
    const recorder = onRecord ? new RequestRecorder(req, res, onRecord) : undefined;
    handle(req, res, deps, recorder)
      .catch(async (error: unknown) => {
        if (recorder) {
          recorder.code = error instanceof RegistryError ? error.wireCode : 'UNKNOWN';
          if (error instanceof RegistryError) recorder.message = error.message;
        }
        await fail(req, res, error, options);
      })
      .catch(() => res.destroy());
  };
}

/**
 * The methods a URL answers (RFC 9110: a 405 lists exactly these in Allow).
 * The uploads collection takes POST only; an upload location takes the rest.
 */
const UPLOAD_COLLECTION = ['POST'];
const UPLOAD_SESSION = Object.keys(HANDLERS.upload).filter((m) => m !== 'POST');
const METHODS = Object.fromEntries(Object.entries(HANDLERS).map(([kind, handlers]) => [kind, Object.keys(handlers)])) as Record<RouteKind, string[]>;

function allowedMethods(route: Route): string[] {
  if (route.kind !== 'upload') return METHODS[route.kind];
  return route.reference === '' ? UPLOAD_COLLECTION : UPLOAD_SESSION;
}

interface Deps {
  store: SeedableStore;
  options: ResolvedOptions;
  controls: Controls;
  limiter: RateLimiter | undefined;
  warnings: string[];
  /** Resolves once the optional machinery (auth, redirects) is built; undefined when none is on. */
  ready: (() => Promise<void>) | undefined;
}

/** route → auth → rate limit → faults → handler; the control endpoint is never limited or faulted. */
async function handle(req: IncomingMessage, res: ServerResponse, deps: Deps, recorder?: RequestRecorder): Promise<void> {
  const { store, options, controls } = deps;
  if (deps.ready) await deps.ready();
  res.setHeader(API_VERSION[0], API_VERSION[1]);
  if (deps.warnings.length > 0) res.setHeader('Warning', deps.warnings);
  const route = parseRoute(req.url ?? '/');
  if (recorder) recorder.route = route;
  // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without Host.
  if (requestAuthority(req) === undefined && req.httpVersionMajor === 1 && req.httpVersionMinor >= 1) throw unsupported('an HTTP/1.1 request needs a Host header', 400);
  checkRoute(route);
  const off = (route.kind === 'control' && !options.control) || (route.kind === 'redirect' && !controls.redirects) || (route.kind === 'token' && controls.auth?.mode !== 'token');
  if (off) throw notFound(route.path);
  // The Host header, else the address the connection came in on (HTTP/1.0 clients may omit Host).
  const local = req.socket.localAddress ?? '127.0.0.1';
  const authority = requestAuthority(req) ?? `${local.includes(':') ? `[${local}]` : local}:${req.socket.localPort}`;
  const principal = controls.auth ? controls.auth.check(req, route, authority) : NOBODY_CHECKS;
  if (route.kind !== 'control') {
    const wait = deps.limiter?.retryAfter();
    if (wait !== undefined) {
      throw new RegistryError('TOOMANYREQUESTS', `rate limit: more than ${options.rateLimit!.requests} requests in ${options.rateLimit!.perSeconds} s`, {
        headers: { 'Retry-After': String(wait) },
      });
    }
    const fault = controls.faults.pick({ method: req.method ?? '', route: route.kind, name: route.name, reference: route.reference });
    if (fault) {
      const { applyFault, faultCode } = await import('./fault-actions.js');
      // Marked before the fault writes anything: the record is taken when the response closes.
      if (recorder) {
        recorder.fault = fault.id;
        recorder.code = faultCode(fault.rule.action, route.kind);
      }
      if ((await applyFault(fault.rule.action, res, route.kind, fault.id)).answered) return;
    }
  }
  const head = req.method === 'HEAD';
  const method = head ? 'GET' : (req.method ?? 'GET');
  controls.upstreams?.checkWrite(route, method);
  const handlers = HANDLERS[route.kind];
  const allowed = allowedMethods(route);
  const handler = allowed.includes(method) ? handlers[method] : undefined;
  if (!handler) {
    const allow = allowed.flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m])).join(', ');
    throw unsupported(`${req.method} is not supported on ${route.path}`, 405, { Allow: allow });
  }
  await handler({ req, res, route, head, store, options, controls, principal, authority, notes: recorder?.notes ?? {} });
}

/** Errors a request's stream raises when its client goes away. */
function isAbort(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ECONNRESET' || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ABORT_ERR' || (error as Error | undefined)?.message === 'aborted';
}

/** How much of an unread body an error answer waits for before it closes the connection instead. */
const DRAIN_LIMIT = 1024 * 1024;

async function fail(req: IncomingMessage, res: ServerResponse, error: unknown, options: ResolvedOptions): Promise<void> {
  // The client went away mid-request: there is no one to answer (any other error is still a bug to report).
  if (isAbort(error) && clientGone(req, res)) return;
  if (res.headersSent) {
    if (!(error instanceof RegistryError)) options.onError(error as Error);
    res.destroy();
    return;
  }
  // Let a client finish sending a (small) body so it reads the answer; a body
  // left unread would be parsed as the next request, so then close instead.
  if (!(await drain(req, DRAIN_LIMIT)) && !res.destroyed) closeAfterAnswer(res);
  if (res.destroyed) return;
  const head = req.method === 'HEAD';
  if (error instanceof RegistryError) {
    sendError(res, error, head);
    return;
  }
  options.onError(error as Error);
  sendJson(res, 500, { errors: [{ code: 'UNKNOWN', message: 'internal error: this is a bug in oci-test-registry' }] }, {}, head);
}
