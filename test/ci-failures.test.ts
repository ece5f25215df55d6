// .ci/failures: the recap of failed assertions .ci/run prints at its end,
// where CI (which shows only the tail of a run) sees it.
import t from 'tap';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;

function recap(log: string): string {
  const run = spawnSync('bash', ['.ci/failures', 'unit'], { cwd: root, input: log, encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`.ci/failures exited ${run.status}: ${run.stderr}`);
  return run.stdout;
}

// The shape tap 21 prints (colours included, as on a terminal): a failed
// assertion with its YAML block inside a subtest, a passing one, the failed
// subtest with its own block, and a passing file.
const log = [
  'TAP version 14',
  '# Subtest: test/a.test.ts',
  '    # Subtest: outer',
  '        \x1b[31mnot ok 1 - one is two\x1b[0m',
  '          ---',
  '          compare: ===',
  '          diff: |',
  '            -2',
  '            +1',
  '          ...',
  '        ',
  '        ok 2 - should be equal',
  '        1..2',
  '    not ok 1 - outer # time=27.806ms',
  '      ---',
  '      at:',
  '        lineNumber: 2',
  '      ...',
  '    ',
  '    ok 2 - fine # time=0.416ms',
  'not ok 1 - test/a.test.ts # time=48.504ms',
  'ok 2 - test/b.test.ts # time=3ms',
  '# { total: 3, pass: 1, fail: 2 }',
  '',
].join('\n');

t.test('each not-ok line, unindented and named by its run, with its YAML block and nothing else', async (t) => {
  t.equal(
    recap(log),
    [
      '[unit] not ok 1 - one is two',
      '              compare: ===',
      '              diff: |',
      '                -2',
      '                +1',
      '[unit] not ok 1 - outer # time=27.806ms',
      '          at:',
      '            lineNumber: 2',
      '[unit] not ok 1 - test/a.test.ts # time=48.504ms',
      '',
    ].join('\n'),
  );
});

t.test('a block longer than 40 lines is cut at 40', async (t) => {
  const long = ['    not ok 3 - big', '      ---', ...Array.from({ length: 60 }, (_, i) => `      line${i}: ${i}`), '      ...', '    ok 4 - after'].join('\n');
  const lines = recap(long).trimEnd().split('\n');
  t.equal(lines.length, 41);
  t.equal(lines[0], '[unit] not ok 3 - big');
  t.equal(lines[40], '          line39: 39');
});

t.test('a passing log gives nothing', async (t) => {
  t.equal(recap('TAP version 14\nok 1 - test/b.test.ts\n# { total: 1, pass: 1 }\n'), '');
});
