/**
 * The control endpoint's routes, described once: the handlers are looked up
 * from this table (src/api/control.ts is typed against it, so a route
 * described without a handler, or handled without a description, does not
 * compile) and `GET openapi.json` is built from it (OpenAPI 3.1).
 */

type Schema = Record<string, unknown>;

interface Parameter {
  name: string;
  in: 'query' | 'path' | 'header';
  description: string;
  schema: Schema;
  required?: boolean;
}

interface ControlRoute {
  method: 'GET' | 'POST' | 'DELETE';
  /** Below `/_oci-test-registry/`; `{id}` is one path segment. */
  path: string;
  summary: string;
  parameters?: readonly Parameter[];
  body?: { description: string; schema: Schema };
  /** Status → description, and the media type of the body when there is one. */
  responses: Readonly<Record<string, readonly [string, string?]>>;
}

const JSON_TYPE = 'application/json';
const STRING = { type: 'string' };
const INTEGER = { type: 'integer' };
const ERROR = 'an OCI error body {"errors":[{"code","message","detail"}]}';

const query = (name: string, description: string, schema: Schema = STRING): Parameter => ({ name, in: 'query', description, schema });

/** The fields journal.filter() and waitFor({ event: 'request' }) match on. */
const REQUEST_FIELDS = [
  query('method', 'HTTP method (case-insensitive)'),
  query('route', 'route kind: base, catalog, tags, manifest, blob, upload, referrers, redirect, control, token'),
  query('name', 'repository name'),
  query('reference', 'tag, digest or upload id of the request; for push and delete events the reference (a push is found by any of its tags or its digest)'),
  query('status', 'response status', INTEGER),
  query('code', 'OCI error code of the response'),
  query('digest', 'digest the request carried or was answered with; for push and upload events their digest'),
];

/** Bytes in JSON: UTF-8 text, or `{ "base64": … }`. */
const BYTES: Schema = { oneOf: [STRING, { type: 'object', required: ['base64'], properties: { base64: STRING }, additionalProperties: false }] };
const ANNOTATIONS: Schema = { type: 'object', additionalProperties: STRING };
const PLATFORM: Schema = {
  type: 'object',
  required: ['architecture', 'os'],
  properties: { architecture: STRING, os: STRING, variant: STRING, 'os.version': STRING },
  additionalProperties: false,
};
const DESCRIPTOR: Schema = { type: 'object', required: ['mediaType', 'digest', 'size'], properties: { mediaType: STRING, digest: STRING, size: INTEGER } };
const NAME_AND_TAG = { name: { ...STRING, description: 'repository name' }, tag: STRING };
const object = (required: string[], properties: Record<string, Schema>): Schema => ({ type: 'object', required, properties, additionalProperties: false });

const SEED_BODY: Schema = {
  description: 'exactly one of image, index, artifact or blob, with the fields of store.pushImage / pushIndex / pushArtifact / seedBlob',
  oneOf: [
    object(['image'], {
      image: object(['name'], {
        ...NAME_AND_TAG,
        layers: { type: 'array', items: BYTES },
        config: { description: 'an object (serialised), or exact bytes as text or {"base64"}', oneOf: [BYTES, { type: 'object' }] },
        platform: PLATFORM,
        annotations: ANNOTATIONS,
      }),
    }),
    object(['index'], {
      index: object(['name', 'manifests'], {
        ...NAME_AND_TAG,
        manifests: { type: 'array', items: object(['digest'], { digest: STRING, platform: PLATFORM, annotations: ANNOTATIONS }) },
        annotations: ANNOTATIONS,
        artifactType: STRING,
      }),
    }),
    object(['artifact'], {
      artifact: object(['name', 'artifactType'], {
        ...NAME_AND_TAG,
        artifactType: STRING,
        subject: { oneOf: [STRING, DESCRIPTOR] },
        blobs: { type: 'array', items: { oneOf: [BYTES, object(['data', 'mediaType'], { data: BYTES, mediaType: STRING })] } },
        annotations: ANNOTATIONS,
      }),
    }),
    object(['blob'], { blob: object(['name', 'data'], { name: STRING, data: BYTES, mediaType: STRING }) }),
  ],
};

export const CONTROL_ROUTES = [
  {
    method: 'GET', path: 'health', summary: 'Health and storage usage',
    responses: { 200: ['{"status":"ok","usage":{storedBytes, uploadBytes, uploads, repositories, blobs}}', JSON_TYPE] },
  },
  {
    method: 'GET', path: 'journal', summary: 'Recorded requests matching every field given', parameters: REQUEST_FIELDS,
    responses: { 200: ['{"entries":[…]}, oldest first', JSON_TYPE], 400: [ERROR, JSON_TYPE] },
  },
  { method: 'GET', path: 'faults', summary: 'Fault rules in force, with their hits', responses: { 200: ['{"faults":[{"id","hits","seen","rule"}]}', JSON_TYPE] } },
  {
    method: 'POST', path: 'faults', summary: 'Add a fault rule or an array of rules',
    body: { description: 'a fault rule or an array of rules (README "Fault injection")', schema: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] } },
    responses: { 201: ['{"faults":[…]} with their ids', JSON_TYPE], 400: [`${ERROR}; no rule is added`, JSON_TYPE] },
  },
  { method: 'DELETE', path: 'faults', summary: 'Remove every fault rule', responses: { 204: ['removed'] } },
  {
    method: 'DELETE', path: 'faults/{id}', summary: 'Remove one fault rule',
    parameters: [{ name: 'id', in: 'path', required: true, description: 'the rule id, e.g. fault-1', schema: STRING }],
    responses: { 204: ['removed'], 404: [`${ERROR}: no such rule`, JSON_TYPE] },
  },
  { method: 'POST', path: 'reset', summary: 'Forget content, uploads, journal, fault rules and event history', responses: { 204: ['reset'] } },
  {
    method: 'POST', path: 'seed', summary: 'Store an image, index, artifact or blob, as the Node API does',
    body: { description: 'exactly one of image, index, artifact, blob', schema: SEED_BODY },
    responses: {
      201: ['what store.pushImage / pushIndex / pushArtifact return ({name, digest, mediaType, bytes: {base64}, manifest, descriptor}), or a blob descriptor', JSON_TYPE],
      400: [`${ERROR} naming the field; nothing is stored`, JSON_TYPE],
      413: [`${ERROR}: the body or the storage limit is exceeded`, JSON_TYPE],
    },
  },
  {
    method: 'GET', path: 'wait', summary: 'Long-poll for the first event matching every field given (as waitFor)',
    parameters: [
      { name: 'event', in: 'query', required: true, description: 'the event kind', schema: { enum: ['request', 'push', 'delete', 'upload'] } },
      ...REQUEST_FIELDS,
      query('kind', 'delete events: manifest, tag or blob'),
      query('timeoutMs', 'how long to wait; default 5000, at most half of idleTimeoutMs (30000 by default)', INTEGER),
    ],
    responses: {
      200: ['the event, exactly as registry.events emits it', JSON_TYPE],
      400: [`${ERROR}: an unknown event, a field the event does not have, a bad timeoutMs`, JSON_TYPE],
      409: [`${ERROR}: the wait was cancelled by a reset or the registry closing`, JSON_TYPE],
      504: [`${ERROR}: no matching event within timeoutMs`, JSON_TYPE],
    },
  },
  {
    method: 'GET', path: 'events', summary: 'Server-sent events: every registry event from now on (or after Last-Event-ID)',
    parameters: [{ name: 'Last-Event-ID', in: 'header', description: 'resume after this event id (its sequence number), from the history kept', schema: INTEGER }],
    responses: {
      200: ['`event:` the kind, `id:` the sequence number, `data:` the event as JSON; `:` heartbeat comments; a final `end` event with {"reason"} when the server ends the stream', 'text/event-stream'],
      400: [`${ERROR}: a bad Last-Event-ID`, JSON_TYPE],
    },
  },
  {
    method: 'GET', path: 'findings', summary: 'What the clients did that the spec forbids or advises against, by the rules of `check`',
    parameters: [query('client', 'how the client under test ended: succeeded (default) or failed; some rules only matter for a client that claims success', { enum: ['succeeded', 'failed'] })],
    responses: {
      200: ['{"findings":[{"rule","severity","seq","message","source"}]} in request order; `seq` is the journal entry', JSON_TYPE],
      400: [`${ERROR}: a bad client value`, JSON_TYPE],
    },
  },
  { method: 'GET', path: 'openapi.json', summary: 'This description (OpenAPI 3.1)', responses: { 200: ['the OpenAPI document', JSON_TYPE] } },
] as const satisfies readonly ControlRoute[];

/** `GET health`, `DELETE faults/{id}` … */
export type ControlRouteKey = (typeof CONTROL_ROUTES)[number] extends infer R ? (R extends { method: infer M extends string; path: infer P extends string } ? `${M} ${P}` : never) : never;

/** The route a method and a path (below the prefix) address, with its path parameters; `allowed` lists the path's methods. */
export function matchControlRoute(method: string, path: string): { key?: ControlRouteKey; params: Record<string, string>; allowed: string[] } {
  const segments = path.split('/');
  const allowed: string[] = [];
  let found: { key: ControlRouteKey; params: Record<string, string> } | undefined;
  for (const route of CONTROL_ROUTES as readonly ControlRoute[]) {
    const template = route.path.split('/');
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const hit = template.every((part, i) => {
      if (!part.startsWith('{')) return part === segments[i];
      params[part.slice(1, -1)] = segments[i]!;
      return segments[i] !== '';
    });
    if (!hit) continue;
    allowed.push(route.method);
    if (route.method === method) found = { key: `${route.method} ${route.path}` as ControlRouteKey, params };
  }
  return { ...found, params: found?.params ?? {}, allowed };
}

/** The OpenAPI 3.1 document of the control routes. */
export function openApiDocument(prefix: string): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of CONTROL_ROUTES as readonly ControlRoute[]) {
    const operation: Record<string, unknown> = {
      operationId: `${route.method.toLowerCase()}${route.path.replace(/(^|[/.{}])+(\w)/g, (_m, _s, c: string) => c.toUpperCase())}`,
      summary: route.summary,
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, [description, type]]) => [status, type ? { description, content: { [type]: { schema: type === JSON_TYPE ? { type: 'object' } : STRING } } } : { description }]),
      ),
    };
    if (route.parameters) operation.parameters = route.parameters;
    if (route.body) operation.requestBody = { required: true, description: route.body.description, content: { [JSON_TYPE]: { schema: route.body.schema } } };
    (paths[`${prefix}${route.path}`] ??= {})[route.method.toLowerCase()] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'oci-test-registry control endpoint',
      // The version of this description, not of the package.
      version: '1.0.0',
      description: 'Routes to seed, steer and watch an oci-test-registry from a test in any language (served with the control option). Errors are OCI error bodies.',
    },
    paths,
  };
}
