import { ERROR_CODES, RegistryError, type ErrorCode } from '../oci/errors.js';
import type { ResolvedOptions } from '../options.js';

/** The refusals a mimicked registry words its own way (the `answers` option). */
export type AnswerKey = 'repositoryUnknown' | 'tagImmutable' | 'pullLimit' | 'catalog';

/**
 * How a registry refuses, in place of the default: status, error code (one
 * of the spec's or the registry's own), message and extra headers. In the
 * message `{name}`, `{tag}`, `{limit}`, `{window}` are filled in, and
 * `{name[1]}` / `{name[1:]}` give one path segment of the name / the
 * segments from that one on (0 is the first).
 */
export interface RegistryAnswer {
  status?: number;
  code?: string;
  message?: string;
  headers?: Record<string, string>;
}

export const ANSWER_KEYS: readonly AnswerKey[] = ['repositoryUnknown', 'tagImmutable', 'pullLimit', 'catalog'];

/** The refusal when no answer is given: spec codes, wording of our own. */
const DEFAULTS: Readonly<Record<AnswerKey, { code: ErrorCode; status: number; message: string }>> = {
  repositoryUnknown: { code: 'NAME_UNKNOWN', status: 404, message: 'repository {name} is not known to this registry: create it before pushing' },
  tagImmutable: { code: 'DENIED', status: 403, message: 'tag {tag} of {name} is immutable: it cannot be moved to another manifest' },
  pullLimit: { code: 'TOOMANYREQUESTS', status: 429, message: 'pull limit reached: {limit} manifest GETs in {window} s' },
  catalog: { code: 'UNSUPPORTED', status: 404, message: 'this registry does not serve the catalog' },
};

function fill(template: string, values: Record<string, string>): string {
  return template.replace(/\{(\w+)(?:\[(\d+)(:)?\])?\}/g, (whole, key: string, index?: string, rest?: string) => {
    const value = values[key];
    if (value === undefined) return whole;
    if (index === undefined) return value;
    const segments = value.split('/');
    return rest ? segments.slice(Number(index)).join('/') : (segments[Number(index)] ?? '');
  });
}

/** The RegistryError for one refusal, worded as `options.answers` says. */
export function refusal(options: ResolvedOptions, key: AnswerKey, values: Record<string, string>): RegistryError {
  const fallback = DEFAULTS[key];
  const answer = options.answers[key];
  const code = answer?.code ?? fallback.code;
  const spec = Object.hasOwn(ERROR_CODES, code);
  return new RegistryError(spec ? (code as ErrorCode) : fallback.code, fill(answer?.message ?? fallback.message, values), {
    status: answer?.status ?? fallback.status,
    // A registry's own wording comes without our detail, as the registry sends it.
    detail: answer || Object.keys(values).length === 0 ? undefined : values,
    headers: answer?.headers,
    wireCode: spec ? undefined : code,
  });
}

/** Why an `answers` value is wrong, or undefined. */
export function answersProblem(answers: unknown): string | undefined {
  for (const [key, answer] of Object.entries(answers as object)) {
    if (!ANSWER_KEYS.includes(key as AnswerKey)) return `has no key ${key} (known: ${ANSWER_KEYS.join(', ')})`;
    if (typeof answer !== 'object' || answer === null) return `.${key} must be an object { status, code, message, headers }`;
    const { status, code, message, headers } = answer as RegistryAnswer;
    if (status !== undefined && !(Number.isInteger(status) && status >= 400 && status <= 599)) return `.${key}.status must be an error status from 400 to 599`;
    if (code !== undefined && !(typeof code === 'string' && /^[A-Z][A-Z0-9_]*$/.test(code))) return `.${key}.code must be an upper-case error code such as NAME_UNKNOWN`;
    if (message !== undefined && typeof message !== 'string') return `.${key}.message must be a string`;
    if (headers !== undefined && (typeof headers !== 'object' || headers === null || Object.values(headers).some((v) => typeof v !== 'string' || /[\r\n]/.test(v)))) {
      return `.${key}.headers must map header names to one-line strings`;
    }
  }
  return undefined;
}
