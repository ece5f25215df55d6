// A token request for `repository:<name>:*` (skopeo asks so before a delete)
// gets `*` when every action is allowed, else the actions that are.
import t from 'tap';
import { send, startFor } from './helpers/http.js';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const claims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

t.test('a * scope is granted whole, or as the allowed actions', async (t) => {
  const registry = await startFor(t, {
    auth: {
      token: { users: { admin: 'a', reader: 'r' } },
      access: [
        { user: 'admin', repositories: '*', actions: ['pull', 'push', 'delete'] },
        { user: 'reader', repositories: 'team/*', actions: ['pull'] },
      ],
    },
  });
  const ask = async (user: string, password: string) => {
    const reply = await send(registry.url, 'GET', '/token?service=x&scope=repository:team/app:*', { headers: { authorization: basic(user, password) } });
    t.equal(reply.status, 200);
    return { body: reply.json, access: claims(reply.json.token).access };
  };
  const admin = await ask('admin', 'a');
  t.same(admin.access, [{ type: 'repository', name: 'team/app', actions: ['*'] }], 'every action allowed: *');
  t.equal(admin.body.scope, 'repository:team/app:*');
  const reader = await ask('reader', 'r');
  t.same(reader.access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }], 'only pull allowed: pull');

  // The * token then serves a delete, which needs the delete action.
  const del = await send(registry.url, 'DELETE', `/v2/team/app/manifests/sha256:${'a'.repeat(64)}`, { headers: { authorization: `Bearer ${admin.body.token}` } });
  t.equal(del.status, 404, 'authorized (the manifest is simply unknown)');
  t.equal(del.json.errors[0].code, 'NAME_UNKNOWN');
});
