import type { UpstreamOptions } from './client.js';

const KEYS = new Set(['url', 'ca', 'username', 'password', 'cache', 'readOnly', 'timeoutMs', 'maxRedirects']);

/** What is wrong with an upstream's options, said as the end of "option upstream…"; undefined when nothing. */
export function upstreamProblem(upstream: UpstreamOptions): string | undefined {
  if (typeof upstream !== 'object' || upstream === null) return ' must be an object with url';
  const unknown = Object.keys(upstream).find((key) => !KEYS.has(key));
  if (unknown !== undefined) return ` has no field ${unknown} (known: ${[...KEYS].join(', ')})`;
  let url: URL | undefined;
  try {
    url = new URL(upstream.url);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) return `: url must be an http:// or https:// URL, got ${JSON.stringify(upstream.url)}`;
  for (const key of ['ca', 'username', 'password'] as const) {
    if (upstream[key] !== undefined && typeof upstream[key] !== 'string') return `: ${key} must be a string`;
  }
  if (upstream.cache !== undefined && upstream.cache !== true && upstream.cache !== false && upstream.cache !== 'pin') return ": cache must be true, false or 'pin'";
  if (upstream.readOnly !== undefined && typeof upstream.readOnly !== 'boolean') return ': readOnly must be true or false';
  for (const key of ['timeoutMs', 'maxRedirects'] as const) {
    const value = upstream[key];
    if (value !== undefined && (typeof value !== 'number' || !(value >= 0) || (key === 'timeoutMs' && value === 0))) return `: ${key} must be a positive number`;
  }
  return undefined;
}
