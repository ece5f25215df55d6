import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { RouteKind } from '../http/route.js';
import type { ErrorCode } from '../oci/errors.js';

/** A value a request field must equal, or a pattern it must match. */
export type FieldMatch = string | RegExp;

/** Which requests a rule applies to; every given field must match. */
export interface FaultMatch {
  method?: FieldMatch;
  route?: RouteKind | RegExp;
  name?: FieldMatch;
  reference?: FieldMatch;
}

/** What a fault does instead of (or before) the normal answer. */
export type FaultAction =
  /** Answer with this status and an OCI error body. */
  | { status: number; code?: ErrorCode; message?: string; headers?: Record<string, string> }
  /** 429 TOOMANYREQUESTS with Retry-After. */
  | { rateLimit: { retryAfterSeconds: number } }
  /** Wait, then answer normally. */
  | { delayMs: number }
  /** Destroy the socket before any status is sent, or after the status and part of the body. */
  | { drop: 'before-response' | 'mid-body' }
  /** Send this many body bytes (with the full Content-Length), then close. */
  | { truncate: number };

/** A fault rule (see README "Fault injection"). */
export interface FaultRule {
  match?: FaultMatch;
  /** Let the first N matching requests through. Default 0. */
  after?: number;
  /** How many requests the fault applies to. Default 1; `Infinity` for all. */
  times?: number;
  /** Apply to a matching request with this probability (0–1), drawn from a generator seeded with `seed`. Default 1. */
  probability?: number;
  /** Seed of the rule's generator: the same seed gives the same sequence. Default 1. */
  seed?: number;
  action: FaultAction;
}

/** A rule in force. */
export interface FaultHandle {
  readonly id: string;
  readonly rule: Readonly<FaultRule>;
  /** How many requests the fault was applied to. */
  readonly hits: number;
  /** Matching requests seen (applied or let through). */
  readonly seen: number;
  remove(): void;
}

/** The request fields a rule is matched against. */
export interface FaultSubject {
  method: string;
  route?: RouteKind;
  name?: string;
  reference?: string;
}

/** mulberry32: a small, fast seeded generator — enough to make "random" failures repeatable. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fieldMatches(expected: FieldMatch | undefined, actual: string | undefined): boolean {
  if (expected === undefined) return true;
  if (actual === undefined) return false;
  return typeof expected === 'string' ? expected === actual : expected.test(actual);
}

/**
 * Reads a `/pattern/flags` string as a RegExp, so rules written as JSON
 * (CLI `--faults`, the control endpoint) can use patterns too.
 */
function fromJson(value: unknown): unknown {
  if (typeof value === 'string') {
    const m = /^\/(.*)\/([a-z]*)$/s.exec(value);
    return m ? new RegExp(m[1]!, m[2]) : value;
  }
  return value;
}

const ACTIONS = ['status', 'rateLimit', 'delayMs', 'drop', 'truncate'] as const;

/** Checks a rule (from code or JSON) and gives a clear TypeError for a bad one. */
export function checkRule(input: unknown): FaultRule {
  if (typeof input !== 'object' || input === null) throw new TypeError('a fault rule must be an object');
  const rule = { ...(input as FaultRule) };
  const action = rule.action as Record<string, unknown> | undefined;
  if (typeof action !== 'object' || action === null) throw new TypeError('a fault rule needs an action');
  const kinds = ACTIONS.filter((k) => k in action);
  if (kinds.length !== 1) throw new TypeError(`a fault action has exactly one of ${ACTIONS.join(', ')}; got ${JSON.stringify(Object.keys(action))}`);
  const nonNegative = (v: unknown) => typeof v === 'number' && v >= 0 && !Number.isNaN(v);
  // 1xx is not a final answer: a client would wait for one that never comes.
  if ('status' in action && !(Number.isInteger(action.status) && (action.status as number) >= 200 && (action.status as number) <= 599)) {
    throw new TypeError('action.status must be an HTTP status from 200 to 599');
  }
  if ('status' in action && action.headers !== undefined) {
    if (typeof action.headers !== 'object' || action.headers === null) throw new TypeError('action.headers must be an object of header values');
    for (const [key, value] of Object.entries(action.headers)) {
      try {
        validateHeaderName(key);
        validateHeaderValue(key, value);
      } catch (error) {
        throw new TypeError(`action.headers.${key}: ${(error as Error).message}`);
      }
    }
  }
  if ('rateLimit' in action && !nonNegative((action.rateLimit as { retryAfterSeconds?: unknown })?.retryAfterSeconds)) {
    throw new TypeError('action.rateLimit.retryAfterSeconds must be a non-negative number');
  }
  if ('delayMs' in action && !nonNegative(action.delayMs)) throw new TypeError('action.delayMs must be a non-negative number');
  if ('drop' in action && action.drop !== 'before-response' && action.drop !== 'mid-body') {
    throw new TypeError("action.drop must be 'before-response' or 'mid-body'");
  }
  if ('truncate' in action && !(Number.isInteger(action.truncate) && (action.truncate as number) >= 0)) {
    throw new TypeError('action.truncate must be a non-negative integer');
  }
  if (rule.after !== undefined && !(Number.isInteger(rule.after) && rule.after >= 0)) throw new TypeError('after must be a non-negative integer');
  if (rule.times === null || (rule.times !== undefined && !(rule.times === Infinity || (Number.isInteger(rule.times) && rule.times >= 0)))) {
    // JSON has no Infinity: rulesFromJson turns the string "Infinity" into it.
    throw new TypeError('times must be a non-negative integer or Infinity');
  }
  if (rule.probability !== undefined && !(typeof rule.probability === 'number' && rule.probability >= 0 && rule.probability <= 1)) {
    throw new TypeError('probability must be a number from 0 to 1');
  }
  if (rule.match !== undefined) {
    const match: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(rule.match)) {
      if (!['method', 'route', 'name', 'reference'].includes(key)) throw new TypeError(`match.${key} is not a field: use method, route, name or reference`);
      if (typeof value !== 'string' && !(value instanceof RegExp)) throw new TypeError(`match.${key} must be a string or a RegExp`);
      const field = fromJson(value);
      // Compiled once, without g/y: a stateful lastIndex would make test() alternate.
      match[key] = field instanceof RegExp ? new RegExp(field.source, field.flags.replace(/[gy]/g, '')) : field;
    }
    rule.match = match as FaultMatch;
  }
  return rule;
}

/** Parses rules written as JSON (`times: "Infinity"` allowed, `/re/` strings as patterns). */
export function rulesFromJson(text: string): FaultRule[] {
  const value = JSON.parse(text, (key, v) => (key === 'times' && v === 'Infinity' ? Infinity : v)) as unknown;
  const list = Array.isArray(value) ? value : [value];
  return list.map(checkRule);
}

class Rule implements FaultHandle {
  hits = 0;
  seen = 0;
  readonly #random: () => number;

  constructor(
    readonly id: string,
    readonly rule: FaultRule,
    readonly remove: () => void,
  ) {
    this.#random = generator(rule.seed ?? 1);
  }

  /** Whether the rule's match fields fit this request. */
  matches(subject: FaultSubject): boolean {
    const { match = {} } = this.rule;
    const route = match.route;
    return (
      fieldMatches(match.method instanceof RegExp ? match.method : match.method?.toUpperCase(), subject.method) &&
      (route === undefined || (route instanceof RegExp ? fieldMatches(route, subject.route) : route === subject.route)) &&
      fieldMatches(match.name, subject.name) &&
      fieldMatches(match.reference, subject.reference)
    );
  }

  /** Counts a matching request and says whether the fault applies to it (`after`, `times`, `probability`). */
  fire(): boolean {
    const { after = 0, times = 1, probability = 1 } = this.rule;
    this.seen++;
    if (this.seen <= after || this.hits >= times) return false;
    if (probability < 1 && this.#random() >= probability) return false;
    this.hits++;
    return true;
  }
}

/** The fault rules of one registry, tried in the order they were added. */
export class Faults {
  #rules: Rule[] = [];
  #next = 1;

  /** Adds a rule; the returned handle counts hits and removes it. */
  add(rule: FaultRule): FaultHandle {
    const id = `fault-${this.#next++}`;
    const handle: Rule = new Rule(id, checkRule(rule), () => {
      this.#rules = this.#rules.filter((r) => r !== handle);
    });
    this.#rules.push(handle);
    return handle;
  }

  /** Removes every rule. */
  clear(): void {
    this.#rules = [];
  }

  /** The rules in force, in order. */
  list(): FaultHandle[] {
    return [...this.#rules];
  }

  /** The first rule that applies to this request, counted as a hit; undefined for none. */
  pick(subject: FaultSubject): FaultHandle | undefined {
    for (const rule of this.#rules) {
      if (rule.matches(subject) && rule.fire()) return rule;
    }
    return undefined;
  }
}
