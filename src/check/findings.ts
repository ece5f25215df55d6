/**
 * Findings: what a client did that the spec forbids or advises against, read
 * from the journal of one scenario after the client finished. Each rule is a
 * pure function of the requests (and the store's answers to two questions),
 * so a finding always names the request (journal `seq`) it came from.
 */
import type { JournalEntry } from '../control/journal.js';
import type { Store } from '../store/store.js';
import { isObject } from '../oci/manifest.js';

export type Severity = 'MUST' | 'SHOULD' | 'info';

export interface Finding {
  /** The rule's name, e.g. `auth-to-redirect-host`. */
  rule: string;
  severity: Severity;
  /** The journal `seq` of the request the finding is about. */
  seq: number;
  message: string;
  /** The spec section or RFC the rule comes from. */
  source: string;
}

/** What the rules know besides the requests. */
export interface FindingContext {
  /** Whether the client exited 0 (some rules only matter for a run that claims success). */
  clientSucceeded: boolean;
  /** `maxPageSize` of the scenario's registry, when it pages. */
  maxPageSize?: number;
  /** The `mediaType` field of a stored manifest's body (undefined: none, or unknown digest). */
  bodyMediaType(name: string, digest: string): string | undefined;
  /** Blobs present in a repository before the client ran (seeded): `name\0digest`. */
  seeded: ReadonlySet<string>;
}

const SPEC = 'distribution-spec v1.1.1';

/** One rule: a name, a severity, where it comes from, and the check. */
export interface FindingRule {
  rule: string;
  severity: Severity;
  source: string;
  /** One line for the catalogue. */
  summary: string;
  check(entries: JournalEntry[], context: FindingContext): Omit<Finding, 'rule' | 'source' | 'severity'>[] | Finding[];
}

const header = (entry: JournalEntry, name: string): string | undefined => {
  const value = entry.requestHeaders[name];
  return Array.isArray(value) ? value.join(', ') : value;
};
const responseHeader = (entry: JournalEntry, name: string): string | undefined => {
  const value = entry.responseHeaders[name];
  return Array.isArray(value) ? value[0] : value;
};
const query = (entry: JournalEntry): URLSearchParams => new URLSearchParams(entry.path.includes('?') ? entry.path.slice(entry.path.indexOf('?') + 1) : '');
const ended = (entry: JournalEntry): number => entry.at + entry.durationMs;
/** An upload session's id, from a response that opened one (202 to POST …/uploads/). */
const openedSession = (entry: JournalEntry): string | undefined =>
  entry.route === 'upload' && entry.method === 'POST' && entry.status === 202 ? responseHeader(entry, 'docker-upload-uuid') : undefined;
/** Leeway for clock rounding between the end of a response and the client's next request. */
const RETRY_LEEWAY_MS = 50;

export const FINDING_RULES: readonly FindingRule[] = [
  {
    rule: 'auth-to-redirect-host',
    severity: 'MUST',
    source: 'WHATWG Fetch "HTTP-redirect fetch" (Authorization removed across origins); RFC 9110 §15.4',
    summary: 'Authorization sent to the host a blob redirect pointed at',
    check: (entries) =>
      entries
        .filter((e) => e.route === 'redirect' && header(e, 'authorization') !== undefined)
        .map((e) => ({ seq: e.seq, message: `${e.method} of a redirected blob carried Authorization (${header(e, 'authorization')}) to another host` })),
  },
  {
    rule: 'retry-before-retry-after',
    severity: 'SHOULD',
    source: 'RFC 9110 §10.2.3; RFC 6585 §4',
    summary: 'the request was repeated sooner than Retry-After asked',
    check: (entries) => {
      const out: { seq: number; message: string }[] = [];
      for (const [i, refused] of entries.entries()) {
        const after = Number(responseHeader(refused, 'retry-after'));
        if (!(refused.status === 429 || refused.status === 503) || !Number.isFinite(after) || after <= 0) continue;
        const again = entries.slice(i + 1).find((e) => e.method === refused.method && e.path.split('?')[0] === refused.path.split('?')[0]);
        if (!again) continue;
        const waited = again.at - ended(refused);
        if (waited + RETRY_LEEWAY_MS < after * 1000) {
          out.push({ seq: again.seq, message: `repeated ${again.method} ${again.path.split('?')[0]} ${Math.max(0, Math.round(waited))} ms after a ${refused.status} (request ${refused.seq}) that said Retry-After: ${after}` });
        }
      }
      return out;
    },
  },
  {
    rule: 'manifest-put-without-content-type',
    severity: 'SHOULD',
    source: `${SPEC} "Pushing Manifests" (clients SHOULD set Content-Type; MUST when the body has mediaType)`,
    summary: 'a manifest PUT without Content-Type (MUST when the body has a mediaType)',
    check: (entries, context) =>
      entries
        .filter((e) => e.route === 'manifest' && e.method === 'PUT' && header(e, 'content-type') === undefined)
        .map((e) => {
          const declared = e.status === 201 && e.name && e.digest ? context.bodyMediaType(e.name, e.digest) : undefined;
          return declared === undefined
            ? { rule: 'manifest-put-without-content-type', severity: 'SHOULD' as const, source: `${SPEC} "Pushing Manifests"`, seq: e.seq, message: 'manifest PUT without Content-Type' }
            : { rule: 'manifest-put-without-content-type', severity: 'MUST' as const, source: `${SPEC} "Pushing Manifests"`, seq: e.seq, message: `manifest PUT without Content-Type, though the body says mediaType ${declared}` };
        }),
  },
  {
    rule: 'manifest-content-type-mismatch',
    severity: 'MUST',
    source: `${SPEC} "Pushing Manifests" (Content-Type MUST be the body's mediaType)`,
    summary: "a manifest PUT whose Content-Type contradicts the body's mediaType",
    check: (entries) =>
      entries
        .filter((e) => e.route === 'manifest' && e.method === 'PUT' && e.code === 'MANIFEST_INVALID' && /does not match the manifest's mediaType/.test(e.message ?? ''))
        .map((e) => ({ seq: e.seq, message: `manifest PUT refused: ${e.message}` })),
  },
  {
    rule: 'upload-never-closed',
    severity: 'MUST',
    source: `${SPEC} "Pushing a blob in chunks" (the session MUST be closed with a PUT)`,
    summary: 'an upload session opened and never finished (PUT) or cancelled (DELETE); info when the client failed',
    check: (entries, context) => {
      const out: Finding[] = [];
      for (const [i, entry] of entries.entries()) {
        const id = openedSession(entry);
        if (id === undefined) continue;
        const closed = entries
          .slice(i + 1)
          .some((e) => e.route === 'upload' && e.reference === id && ((e.method === 'PUT' && e.status === 201) || (e.method === 'DELETE' && e.status === 204)));
        if (closed) continue;
        out.push({
          rule: 'upload-never-closed',
          severity: context.clientSucceeded ? 'MUST' : 'info',
          source: `${SPEC} "Pushing a blob in chunks"`,
          seq: entry.seq,
          message: `upload session ${id} (opened by request ${entry.seq}) was neither finished with PUT nor cancelled with DELETE`,
        });
      }
      return out;
    },
  },
  {
    rule: 'chunk-without-content-range',
    severity: 'MUST',
    source: `${SPEC} "Pushing a blob in chunks" (PATCH carries Content-Range)`,
    summary: 'a PATCH after the first chunk of a session without Content-Range',
    check: (entries) => {
      const patched = new Set<string>();
      const out: { seq: number; message: string }[] = [];
      for (const e of entries) {
        if (e.route !== 'upload' || e.method !== 'PATCH' || !e.reference) continue;
        if (patched.has(e.reference) && header(e, 'content-range') === undefined) {
          out.push({ seq: e.seq, message: `PATCH of session ${e.reference} without Content-Range after an earlier chunk` });
        }
        if (e.status === 202 || e.status === 204) patched.add(e.reference);
      }
      return out;
    },
  },
  {
    rule: 'upload-url-built',
    severity: 'MUST',
    source: `${SPEC} "Pushing a blob in chunks" (<location> is the URL obtained from the preceding request)`,
    summary: 'an upload URL the client built itself instead of taking Location (the opaque _state parameter is missing)',
    check: (entries) => {
      const handedOut = new Set(entries.filter((e) => e.route === 'upload').map((e) => responseHeader(e, 'location')).filter((l) => l?.includes('_state=')));
      if (handedOut.size === 0) return [];
      return entries
        .filter((e) => e.route === 'upload' && e.reference && !query(e).has('_state'))
        .map((e) => ({ seq: e.seq, message: `${e.method} ${e.path} has no _state parameter: the URL was not taken from a Location` }));
    },
  },
  {
    rule: 'blob-pushed-again',
    severity: 'info',
    source: `${SPEC} "Checking if content exists in the registry", "Layer Upload De-duplication"`,
    summary: 'a blob uploaded though the repository already held it (a HEAD would have said so)',
    check: (entries, context) => {
      const held = new Set(context.seeded);
      const out: { seq: number; message: string }[] = [];
      for (const e of entries) {
        if (!e.name || !e.digest) continue;
        const key = `${e.name}\0${e.digest}`;
        const uploaded = e.route === 'upload' && e.status === 201 && !query(e).has('mount');
        if (uploaded && held.has(key)) out.push({ seq: e.seq, message: `${e.digest} uploaded again into ${e.name}, which already held it` });
        if (uploaded || (e.route === 'blob' && (e.status === 200 || e.status === 307))) held.add(key);
      }
      return out;
    },
  },
  {
    rule: 'page-size-exceeded',
    severity: 'info',
    source: `${SPEC} "Listing Tags" (the registry MAY return fewer than n, with Link)`,
    summary: 'n above the page size the registry pages at',
    check: (entries, context) =>
      context.maxPageSize === undefined
        ? []
        : entries
            .filter((e) => (e.route === 'tags' || e.route === 'catalog') && Number(query(e).get('n')) > context.maxPageSize!)
            .map((e) => ({ seq: e.seq, message: `asked for n=${query(e).get('n')}; this registry pages at ${context.maxPageSize}` })),
  },
  {
    rule: 'link-not-followed',
    severity: 'SHOULD',
    source: `${SPEC} "Listing Tags" (Link rel="next", RFC 5988)`,
    summary: 'a tag or catalog page with Link rel="next" whose next page was never asked for',
    check: (entries, context) => {
      if (!context.clientSucceeded) return [];
      const out: { seq: number; message: string }[] = [];
      for (const [i, e] of entries.entries()) {
        const link = responseHeader(e, 'link');
        const target = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link)?.[1] : undefined;
        if (!target || (e.route !== 'tags' && e.route !== 'catalog')) continue;
        const last = new URL(target, 'http://x').searchParams.get('last');
        const followed = entries.slice(i + 1).some((later) => later.route === e.route && later.name === e.name && query(later).get('last') === last);
        if (!followed) out.push({ seq: e.seq, message: `the next page (${target}) was never asked for` });
      }
      return out;
    },
  },
  {
    rule: 'truncated-blob-accepted',
    severity: 'MUST',
    source: `${SPEC} "Content Verification" (each blob is verified against its digest)`,
    summary: 'exit 0 after a blob body was cut short and never fetched whole',
    check: (entries, context) => {
      if (!context.clientSucceeded) return [];
      const isBlobGet = (e: JournalEntry) => (e.route === 'blob' || e.route === 'redirect') && e.method === 'GET';
      return entries
        .filter((e, i) => isBlobGet(e) && !e.completed && e.status >= 200 && e.status < 300 && !entries.slice(i + 1).some((later) => isBlobGet(later) && later.completed && later.reference === e.reference && later.status >= 200 && later.status < 300))
        .map((e) => ({ seq: e.seq, message: `the body of ${e.reference} was cut at ${e.bytesOut} bytes, never fetched whole, yet the client exited 0` }));
    },
  },
];

/**
 * The `mediaType` field of each manifest body the requests pushed (201), read
 * from the store once, for {@link FindingContext.bodyMediaType}.
 */
export async function pushedBodyTypes(store: Store, entries: readonly JournalEntry[]): Promise<FindingContext['bodyMediaType']> {
  const bodies = new Map<string, string | undefined>();
  for (const e of entries) {
    if (e.route !== 'manifest' || e.method !== 'PUT' || e.status !== 201 || !e.name || !e.digest) continue;
    const stored = await store.manifest(e.name, e.digest);
    let declared: string | undefined;
    try {
      const body = stored ? (JSON.parse(stored.bytes.toString('utf8')) as unknown) : undefined;
      declared = isObject(body) && typeof body.mediaType === 'string' ? body.mediaType : undefined;
    } catch {
      declared = undefined;
    }
    bodies.set(`${e.name}\0${e.digest}`, declared);
  }
  return (name, digest) => bodies.get(`${name}\0${digest}`);
}

/** Every finding of one scenario's requests, in request order. */
export function detectFindings(entries: JournalEntry[], context: FindingContext): Finding[] {
  const findings: Finding[] = [];
  for (const rule of FINDING_RULES) {
    for (const found of rule.check(entries, context)) {
      findings.push({ rule: rule.rule, severity: rule.severity, source: rule.source, ...found });
    }
  }
  return findings.sort((a, b) => a.seq - b.seq);
}
