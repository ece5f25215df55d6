// What the `check` tests share: the fixture client (well-behaved, or broken
// one way with --broken=KIND) as a command, and ways to read the results.
import { fileURLToPath } from 'node:url';
import { commandClient, type ClientRun, type ScenarioResult } from '../../src/index.js';

/** test/fixtures/check-clients/client.mjs: push, list tags, pull back, verify. */
export const CHECK_CLIENT = fileURLToPath(new URL('../fixtures/check-clients/client.mjs', import.meta.url));

/** The fixture client as a command; `broken` names the one thing it gets wrong. */
export const fixtureClient = (broken?: string): ClientRun => commandClient([process.execPath, CHECK_CLIENT, ...(broken ? [`--broken=${broken}`] : [])]);

/** Results by scenario name. */
export const byName = (results: ScenarioResult[]): Record<string, ScenarioResult> => Object.fromEntries(results.map((r) => [r.name, r]));

/** The rules of a result's findings, optionally of one severity. */
export const rulesOf = (r: ScenarioResult, severity?: string): string[] => r.findings.filter((f) => !severity || f.severity === severity).map((f) => f.rule);

/** Scenario runs start a registry and a client process each: far longer than tap's default on a busy machine. */
export const CHECK_TEST_TIMEOUT_MS = 300_000;
