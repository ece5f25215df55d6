// Option names and types (README "Options"): a typo or a wrong type is
// refused with a TypeError naming the option, never taken silently.
import t from 'tap';
import { createRegistry, startRegistry } from '../src/index.js';
import { OPTION_TYPES } from '../src/option-types.js';

t.test('an unknown option is refused with the closest known name', async (t) => {
  t.throws(() => createRegistry({ referers: false } as never), new TypeError('unknown option referers; did you mean referrers?'));
  t.throws(() => createRegistry({ catalogue: false } as never), new TypeError('unknown option catalogue; did you mean catalog?'));
  t.throws(() => createRegistry({ immutable: true } as never), new TypeError('unknown option immutable; did you mean immutableTags?'));
  t.throws(() => createRegistry({ zzzzzzzz: 1 } as never), new TypeError('unknown option zzzzzzzz'));
  await t.rejects(startRegistry({ mountWithoutFrm: false } as never), new TypeError('unknown option mountWithoutFrm; did you mean mountWithoutFrom?'));
});

t.test('a value of the wrong type is refused, naming the option and what it must be', async (t) => {
  t.throws(() => createRegistry({ referrers: 'no' } as never), new TypeError('option referrers must be true or false, got "no"'));
  t.throws(() => createRegistry({ maxPageSize: '10' } as never), new TypeError('option maxPageSize must be a number, got "10"'));
  t.throws(() => createRegistry({ warnings: 'x' } as never), new TypeError('option warnings must be an array of strings, got "x"'));
  t.throws(() => createRegistry({ onError: {} } as never), new TypeError('option onError must be a function, got an object'));
  t.throws(() => createRegistry({ createOnPush: 'team/*' } as never), new TypeError('option createOnPush must be true, false or an array of name patterns, got "team/*"'));
  t.throws(() => createRegistry({ tagDeletes: 'no' } as never), new TypeError("option tagDeletes must be true, false or 'digest-invalid', got \"no\""));
});

t.test('undefined means "not given"; every option has a row', async (t) => {
  const registry = createRegistry({ referrers: undefined, maxPageSize: undefined });
  t.teardown(() => registry.close());
  t.equal(registry.options.referrers, true);
  for (const [name, check] of Object.entries(OPTION_TYPES)) t.type(check, 'function', name);
});
