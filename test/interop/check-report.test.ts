// report.html in a real browser: Debian's chromium, headless, opens the file
// from disk (no server, no network) and the test reads the rendered DOM for
// the matrix and the request timelines; a screenshot is written next to the
// report for a person to look at (CHECK_REPORT_SCREENSHOT=path keeps it).
import t from 'tap';
import { execFile } from 'node:child_process';
import { copyFile, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runCheck, writeReports } from '../../src/index.js';
import { fixtureClient } from '../helpers/check.js';
import { tempDir } from './skopeo-run.js';

const CHROMIUM = process.env.CHROMIUM ?? 'chromium';

/** Runs headless chromium with `args` on `url`; resolves with its stdout and stderr (rejects on a non-zero exit). */
function chromium(profile: string, args: string[], url: string): Promise<{ stdout: string; stderr: string }> {
  const flags = [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', `--user-data-dir=${profile}`, '--enable-logging=stderr', '--v=0',
  ];
  return new Promise((resolve, reject) => {
    execFile(CHROMIUM, [...flags, ...args, url], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${CHROMIUM} failed: ${error.message}\n${stderr}`));
      else resolve({ stdout, stderr });
    });
  });
}

/** Console messages chromium logged at error level, and uncaught exceptions. */
const consoleErrors = (stderr: string) => stderr.split('\n').filter((l) => /Uncaught|:ERROR:CONSOLE|CONSOLE\(\d+\)\].*(Error|error)/.test(l));

t.test('report.html renders the matrix and every request of every timeline, without console errors', async (t) => {
  const dir = await tempDir(t, 'check-report');
  // A report with a pass, a failure with a MUST finding, faults and a SHOULD finding.
  const report = await runCheck(fixtureClient('accepts-truncated'), { scenarios: ['baseline', 'truncate-blob-get', '429-retry-after', 'blob-redirect'] });
  report.command = ['node', 'client.mjs', '--broken=accepts-truncated'];
  await writeReports(report, dir);
  const url = pathToFileURL(join(dir, 'report.html')).href;

  const { stdout: dom, stderr } = await chromium(join(dir, 'profile-dom'), ['--dump-dom'], url);
  t.same(consoleErrors(stderr), [], 'no console errors');
  t.match(dom, /<html lang="en" data-ready="true">/, 'the page script ran to its end');
  const matrixRows = [...dom.matchAll(/<tr class="scenario-row" data-scenario="([^"]+)"[^>]*data-result="(\w+)"/g)].map((m) => [m[1], m[2]]);
  t.same(matrixRows, report.results.map((r) => [r.name, r.result]), 'one matrix row per scenario, with its result');
  for (const result of report.results) {
    const section = new RegExp(`<section class="scenario" id="s-${result.name}"[\\s\\S]*?</section>`).exec(dom)?.[0] ?? '';
    t.ok(section, `${result.name} has a section`);
    const rows = [...section.matchAll(/<tr class="req [^"]*" id="[^"]+" data-seq="(\d+)"/g)].map((m) => Number(m[1]));
    t.same(rows, result.requests.map((e) => e.seq), `${result.name}: one timeline row per request`);
    for (const f of result.findings) {
      t.match(section, new RegExp(`data-seq="${f.seq}" data-rules="[^"]*${f.rule}`), `${result.name}: finding ${f.rule} marked on request ${f.seq}`);
    }
  }
  t.match(dom, /<span class="mark fault" title="fault fault-1">/, 'faults are marked');
  t.match(dom, /<option>truncated-blob-accepted<\/option>/, 'the finding filter offers the rules found');
  t.notMatch(await readFile(join(dir, 'report.html'), 'utf8'), /(src|href)="(https?:)?\/\//, 'no external assets');

  const shot = join(dir, 'report.png');
  await chromium(join(dir, 'profile-shot'), [`--screenshot=${shot}`, '--window-size=1400,1800', '--hide-scrollbars'], url);
  t.ok((await stat(shot)).size > 10_000, 'a screenshot was taken');
  if (process.env.CHECK_REPORT_SCREENSHOT) await copyFile(shot, process.env.CHECK_REPORT_SCREENSHOT);
});
