/**
 * The check report in the forms people and CI systems read: a terminal
 * table, report.json (everything), junit.xml (one testcase per scenario) and
 * report.html (see html.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CheckReport, ScenarioResult } from './runner.js';
import { renderHtml } from './html.js';

const COLUMNS = ['scenario', 'result', 'requests', 'findings', 'seconds'] as const;
const WIDTHS = [28, 6, 8, 16, 7];

/** `2 MUST 1 SHOULD` (info findings are counted last). */
export function findingCounts(result: ScenarioResult): string {
  const count = (severity: string) => result.findings.filter((f) => f.severity === severity).length;
  const parts = (['MUST', 'SHOULD', 'info'] as const).map((s) => [s, count(s)] as const).filter(([, n]) => n > 0);
  return parts.length === 0 ? '-' : parts.map(([s, n]) => `${n} ${s}`).join(' ');
}

function cells(values: string[]): string {
  return values.map((v, i) => (i === 0 ? v.padEnd(WIDTHS[i]!) : v.padStart(WIDTHS[i]!))).join('  ').trimEnd();
}

/** The table's heading line. */
export function tableHeader(): string {
  return `${cells([...COLUMNS])}\n`;
}

/** One table row, with the reasons of a failure indented under it. */
export function tableRow(result: ScenarioResult): string {
  const outcome = result.timedOut ? 'TIMEOUT' : result.result.toUpperCase();
  const row = cells([result.name, outcome, String(result.requests.length), findingCounts(result), (result.durationMs / 1000).toFixed(1)]);
  return `${row}\n${result.reasons.map((r) => `    ${r}\n`).join('')}`;
}

/** The one-line summary under the table. */
export function summaryLine(report: CheckReport): string {
  const findings = report.results.reduce((n, r) => n + r.findings.length, 0);
  return `${report.passed} of ${report.results.length} scenarios passed, ${report.failed} failed, ${findings} finding${findings === 1 ? '' : 's'}, ${(report.durationMs / 1000).toFixed(1)} s\n`;
}

/** The whole table, heading to summary. */
export function formatTable(report: CheckReport): string {
  return `${tableHeader()}${report.results.map(tableRow).join('')}${summaryLine(report)}`;
}

/** JSON with RegExps (in fault rules) written as `/source/flags`, as the CLI reads them. */
export function reportJson(report: CheckReport): string {
  return `${JSON.stringify(report, (_key, value: unknown) => (value instanceof RegExp ? String(value) : value === Infinity ? 'Infinity' : value), 2)}\n`;
}

function xml(text: string): string {
  // Characters XML 1.0 cannot hold at all are dropped.
  return text
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** JUnit XML: one testcase per scenario; a failed scenario (MUST findings included) is a failure, SHOULD and info findings are in system-out. */
export function junitXml(report: CheckReport): string {
  const cases = report.results.map((r) => {
    const findings = r.findings.map((f) => `[${f.severity}] ${f.rule} (request ${f.seq}): ${f.message} — ${f.source}`).join('\n');
    const failure = r.result === 'fail' ? `\n    <failure message="${xml(r.reasons.join('; '))}" type="${r.timedOut ? 'timeout' : 'check'}">${xml(`${r.reasons.join('\n')}\n\n${r.output}`)}</failure>` : '';
    const out = `${r.summary}\nexpects: ${r.expects}\nsource: ${r.source}\n${findings}`;
    return `  <testcase classname="oci-test-registry.check" name="${xml(r.name)}" time="${(r.durationMs / 1000).toFixed(3)}">${failure}\n    <system-out>${xml(out)}</system-out>\n  </testcase>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n<testsuite name="oci-test-registry check" tests="${report.results.length}" failures="${report.failed}" errors="0" time="${(report.durationMs / 1000).toFixed(3)}" timestamp="${new Date(report.startedAt).toISOString()}">\n${cases.join('\n')}\n</testsuite>\n</testsuites>\n`;
}

/** Writes report.json, junit.xml and report.html into `dir` (made when missing); returns their paths. */
export async function writeReports(report: CheckReport, dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['report.json', reportJson(report)],
    ['junit.xml', junitXml(report)],
    ['report.html', renderHtml(report)],
  ];
  for (const [name, text] of files) await writeFile(join(dir, name), text);
  return files.map(([name]) => join(dir, name));
}
