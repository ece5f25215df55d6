/**
 * The one error type of the registry. Anything in the store, the OCI helpers
 * or a handler throws a `RegistryError`; the pipeline alone turns it into the
 * spec's JSON envelope (spec: "Error Codes").
 */

/** The closed set of error codes of the OCI Distribution Specification v1.1 ("Error Codes", code-1 … code-14). */
export type ErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS';

/** Default HTTP status and message per code; a thrower may override the status (416, 413 …). */
export const ERROR_CODES: Readonly<Record<ErrorCode, { status: number; message: string }>> = {
  BLOB_UNKNOWN: { status: 404, message: 'blob unknown to registry' },
  BLOB_UPLOAD_INVALID: { status: 400, message: 'blob upload invalid' },
  BLOB_UPLOAD_UNKNOWN: { status: 404, message: 'blob upload unknown to registry' },
  DIGEST_INVALID: { status: 400, message: 'provided digest did not match uploaded content' },
  MANIFEST_BLOB_UNKNOWN: { status: 400, message: 'manifest references a manifest or blob unknown to registry' },
  MANIFEST_INVALID: { status: 400, message: 'manifest invalid' },
  MANIFEST_UNKNOWN: { status: 404, message: 'manifest unknown to registry' },
  NAME_INVALID: { status: 400, message: 'invalid repository name' },
  NAME_UNKNOWN: { status: 404, message: 'repository name not known to registry' },
  SIZE_INVALID: { status: 400, message: 'provided length did not match content length' },
  UNAUTHORIZED: { status: 401, message: 'authentication required' },
  DENIED: { status: 403, message: 'requested access to the resource is denied' },
  UNSUPPORTED: { status: 405, message: 'the operation is unsupported' },
  TOOMANYREQUESTS: { status: 429, message: 'too many requests' },
};

/** Marks a RegistryError so that `instanceof` works across two loaded copies of the package. */
const MARK = Symbol.for('oci-test-registry.RegistryError');

export interface RegistryErrorInit {
  /** HTTP status; defaults to the code's status in {@link ERROR_CODES}. */
  status?: number;
  /** Free-form JSON the client can use to resolve the issue (spec: the `detail` field). */
  detail?: unknown;
  /** Extra response headers (e.g. `Range` on a 416, `Allow` on a 405). */
  headers?: Record<string, string>;
  /**
   * A code outside the spec's set, sent instead of `code` where a mimicked
   * registry answers with its own (Harbor's `PRECONDITION`, ECR's
   * `TAG_INVALID`); `code` stays the nearest spec code.
   */
  wireCode?: string;
}

/** An OCI protocol error: code from the spec's closed set, HTTP status, message and optional detail. */
export class RegistryError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: unknown;
  readonly headers: Readonly<Record<string, string>>;
  /** The code on the wire: `code`, or the registry's own (see {@link RegistryErrorInit.wireCode}). */
  readonly wireCode: string;

  constructor(code: ErrorCode, message?: string, init: RegistryErrorInit = {}) {
    super(message ?? ERROR_CODES[code].message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = init.status ?? ERROR_CODES[code].status;
    this.detail = init.detail;
    this.headers = init.headers ?? {};
    this.wireCode = init.wireCode ?? code;
    Object.defineProperty(this, MARK, { value: true });
  }

  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARK] === true;
  }

  /** The spec's error envelope for this error. */
  toJSON(): { errors: { code: string; message: string; detail?: unknown }[] } {
    const entry: { code: string; message: string; detail?: unknown } = { code: this.wireCode, message: this.message };
    if (this.detail !== undefined) entry.detail = this.detail;
    return { errors: [entry] };
  }
}

// Factories for the errors thrown in more than one place, so a code and its
// wording are written once.
export const blobUnknown = (digest: string): RegistryError =>
  new RegistryError('BLOB_UNKNOWN', `blob ${digest} is not known to this repository`, { detail: { digest } });

export const manifestUnknown = (reference: string): RegistryError =>
  new RegistryError('MANIFEST_UNKNOWN', `manifest ${reference} is not known to this repository`, { detail: { reference } });

export const nameUnknown = (name: string): RegistryError =>
  new RegistryError('NAME_UNKNOWN', `repository ${name} is not known to this registry`, { detail: { name } });

export const uploadUnknown = (id: string): RegistryError =>
  new RegistryError('BLOB_UPLOAD_UNKNOWN', `upload ${id} is not known to this repository`, { detail: { id } });

export const digestInvalid = (why: string, detail?: unknown): RegistryError =>
  new RegistryError('DIGEST_INVALID', why, { detail });

export const manifestInvalid = (why: string, detail?: unknown): RegistryError =>
  new RegistryError('MANIFEST_INVALID', why, { detail });

export const unsupported = (why: string, status = 405, headers?: Record<string, string>): RegistryError =>
  new RegistryError('UNSUPPORTED', why, { status, headers });
