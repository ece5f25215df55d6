// RegistryError: the spec's closed code set, and instanceof across two loaded copies.
import t from 'tap';
import { RegistryError, ERROR_CODES } from '../src/index.js';
import { SPEC_ERROR_CODES } from './helpers/fixtures.js';

t.test('the code table is the spec\'s fourteen codes', async (t) => {
  // The tests keep the spec's list once (fixtures SPEC_ERROR_CODES); the code is checked against it.
  t.equal(SPEC_ERROR_CODES.length, 14, 'the spec names fourteen codes');
  t.same(Object.keys(ERROR_CODES).sort(), [...SPEC_ERROR_CODES].sort());
});

t.test('status defaults from the table, and may be overridden', async (t) => {
  const error = new RegistryError('BLOB_UPLOAD_INVALID', 'out of order', { status: 416, detail: { start: 5 } });
  t.equal(error.status, 416);
  t.equal(error.code, 'BLOB_UPLOAD_INVALID');
  t.same(error.toJSON(), { errors: [{ code: 'BLOB_UPLOAD_INVALID', message: 'out of order', detail: { start: 5 } }] });
  t.equal(new RegistryError('NAME_UNKNOWN').status, 404);
  t.equal(new RegistryError('NAME_UNKNOWN').message, 'repository name not known to registry');
  t.ok(new RegistryError('DENIED') instanceof Error);
});

t.test('instanceof works across two loaded copies of the module', async (t) => {
  const copy = (await import(`../src/oci/errors.js?copy=${Date.now()}`)) as typeof import('../src/oci/errors.js');
  t.not(copy.RegistryError, RegistryError, 'really a second copy');
  t.ok(new copy.RegistryError('DENIED') instanceof RegistryError);
  t.ok(new RegistryError('DENIED') instanceof copy.RegistryError);
  t.notOk(new Error('x') instanceof RegistryError);
  t.notOk({ code: 'DENIED' } instanceof RegistryError);
});
