import type { Route } from '../http/route.js';
import { readMount } from '../oci/mount.js';

/** Docker token-auth actions on a repository (and `*` on `registry:catalog`). */
export type Action = 'pull' | 'push' | 'delete' | '*';

/** One resource scope (Docker "Token Authentication Specification": `type:name:actions`). */
export interface Scope {
  type: 'repository' | 'registry';
  name: string;
  actions: Action[];
}

/** An authorization rule: `user` may do `actions` in repositories matching `repositories`. */
export interface AccessRule {
  user: string;
  /** A name, a pattern with `*` (any characters, `/` included), or a list of them. */
  repositories: string | string[];
  actions: ('pull' | 'push' | 'delete')[];
}

export function formatScope(scope: Scope): string {
  return `${scope.type}:${scope.name}:${scope.actions.join(',')}`;
}

/**
 * Parses `repository:team/app:pull,push` or `registry:catalog:*`. The name
 * may itself contain ':' (a registry host with a port), so type is the first
 * field and actions the last. Unknown types and actions are dropped.
 */
export function parseScope(value: string): Scope | undefined {
  const first = value.indexOf(':');
  const last = value.lastIndexOf(':');
  if (first <= 0 || last === first) return undefined;
  const type = value.slice(0, first);
  const name = value.slice(first + 1, last);
  if (type !== 'repository' && type !== 'registry') return undefined;
  const known = new Set<string>(type === 'registry' ? ['*'] : ['pull', 'push', 'delete', '*']);
  const actions = [...new Set(value.slice(last + 1).split(','))].filter((a) => known.has(a)) as Action[];
  return { type, name, actions };
}

/**
 * The scope a request needs. Reads need pull; uploads and manifest pushes
 * need push (named as `pull,push`, as Docker clients ask); deletes need
 * delete; the catalog needs `registry:catalog:*`. The base route needs a
 * valid credential but no scope (undefined).
 */
export function requiredScope(route: Route, method: string): Scope | undefined {
  const name = route.name ?? '';
  switch (route.kind) {
    case 'catalog':
      return { type: 'registry', name: 'catalog', actions: ['*'] };
    case 'tags':
    case 'referrers':
      return { type: 'repository', name, actions: ['pull'] };
    case 'blob':
    case 'manifest':
      if (method === 'DELETE') return { type: 'repository', name, actions: ['delete'] };
      if (method === 'PUT') return { type: 'repository', name, actions: ['pull', 'push'] };
      return { type: 'repository', name, actions: ['pull'] };
    case 'upload':
      return { type: 'repository', name, actions: ['pull', 'push'] };
    default:
      return undefined;
  }
}

/**
 * The second scope a mount needs: pull on its source. A mount
 * (`POST …/uploads/?mount=<d>&from=<A>`) needs push on the target and pull
 * on `from` (distribution names both in its challenge), unless the mount
 * cannot happen anyway (a malformed digest or `from`, or `from` the target).
 */
export function mountSourceScope(route: Route, method: string): Scope | undefined {
  if (route.kind !== 'upload' || route.reference !== '' || method !== 'POST') return undefined;
  const asked = readMount(route.query);
  if (asked === undefined || 'problem' in asked || asked.from === undefined || asked.from === route.name) return undefined;
  return { type: 'repository', name: asked.from, actions: ['pull'] };
}

const PATTERNS = new Map<string, RegExp>();

function repositoryMatches(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  let compiled = PATTERNS.get(pattern);
  if (!compiled) {
    const source = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&')).join('.*');
    PATTERNS.set(pattern, (compiled = new RegExp(`^${source}$`)));
  }
  return compiled.test(name);
}

/**
 * What `user` may do on `scope`. Without rules every known user may do
 * everything (the common case in tests); with rules, only what a rule grants.
 * `anonymous` users (undefined) get `anonymousActions`.
 */
export function allowedActions(scope: Scope, user: string | undefined, rules: AccessRule[] | undefined, anonymousActions: Action[]): Action[] {
  if (user === undefined) return scope.type === 'repository' ? anonymousActions : [];
  if (!rules) return scope.type === 'registry' ? ['*'] : ['pull', 'push', 'delete'];
  if (scope.type === 'registry') return rules.some((r) => r.user === user && [r.repositories].flat().includes('*')) ? ['*'] : [];
  // Logging in never takes away what anonymous users may do.
  const granted = new Set<Action>(anonymousActions);
  for (const rule of rules) {
    if (rule.user !== user) continue;
    if ([rule.repositories].flat().some((pattern) => repositoryMatches(pattern, scope.name))) rule.actions.forEach((a) => granted.add(a));
  }
  return [...granted];
}

/** Whether `granted` covers every action `needed` asks for (`*` covers all). */
export function covers(granted: Action[], needed: Action[]): boolean {
  return granted.includes('*') || needed.every((a) => granted.includes(a));
}
