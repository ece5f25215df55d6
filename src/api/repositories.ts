import type { RequestContext } from '../http/context.js';
import { refusal } from './answers.js';

/** `*` is one path segment, `**` any number of them. */
function patternToRegExp(pattern: string): RegExp {
  const body = pattern
    .split(/(\*\*|\*)/)
    .map((part) => (part === '**' ? '.*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
    .join('');
  return new RegExp(`^${body}$`);
}

const compiled = new WeakMap<readonly string[], RegExp[]>();

/**
 * Option createOnPush: a push (upload POST, mount, manifest PUT) into a
 * repository that does not exist creates it (true, the default), is refused
 * (false: ECR, GAR), or creates it only when the name matches a pattern.
 */
export async function checkPushTarget(ctx: RequestContext, name: string): Promise<void> {
  const { createOnPush } = ctx.options;
  if (createOnPush === true) return;
  if (createOnPush !== false) {
    let patterns = compiled.get(createOnPush);
    if (!patterns) compiled.set(createOnPush, (patterns = createOnPush.map(patternToRegExp)));
    if (patterns.some((pattern) => pattern.test(name))) return;
  }
  if (await ctx.store.hasRepository(name)) return;
  throw refusal(ctx.options, 'repositoryUnknown', { name });
}
