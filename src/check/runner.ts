/**
 * The check run: for each scenario a fresh registry (the public
 * startRegistry, in this process), the client under test pointed at it, and
 * a verdict from its exit status, the content it left and the findings in
 * the journal.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry } from '../registry.js';
import type { RegistryOptions } from '../options.js';
import type { JournalEntry } from '../control/journal.js';
import { importLayout } from '../layout/import.js';
import { parseManifest } from '../oci/manifest.js';
import { selectScenarios, type Scenario } from './scenarios.js';
import { detectFindings, pushedBodyTypes, type Finding } from './findings.js';

/** Where the client under test is pointed; also its environment. */
export interface CheckTarget {
  /** `127.0.0.1:PORT` (OCI_REGISTRY). */
  registry: string;
  /** `http://127.0.0.1:PORT` (OCI_REGISTRY_URL). */
  url: string;
  /** A repository name of its own per scenario (OCI_REPOSITORY). */
  repository: string;
  /** Set when the scenario needs credentials (OCI_USERNAME / OCI_PASSWORD). */
  username?: string;
  password?: string;
  /** The scenario's name (OCI_CHECK_SCENARIO). */
  scenario: string;
  /** TLS scenarios: the CA's PEM, the file holding it (OCI_CA_FILE) and a directory holding it as ca.crt (OCI_CERT_DIR, as Docker's certs.d and containers' --cert-dir read it). */
  ca?: { pem: string; file: string; dir: string };
  /** The variables above, as given to a command. */
  env: Record<string, string>;
}

/** How one run of the client ended: exit 0 is success. */
export interface ClientOutcome {
  /** null: killed (timeout) or could not start. */
  exitCode: number | null;
  /** What it printed (commands), or the error it threw (checkClient); the end is kept. */
  output: string;
}

/** Runs the client once against `target`; must end (or give up) when `signal` aborts. */
export type ClientRun = (target: CheckTarget, signal: AbortSignal) => Promise<ClientOutcome>;

export interface CheckOptions {
  /** Scenario names or globs (`503-*`); default: the default set. */
  scenarios?: readonly string[];
  /** Per scenario; a client still running after it is stopped and the scenario fails. Default 60 s. */
  timeoutMs?: number;
  /** An OCI image layout imported into the repository before each scenario (content for pull commands). */
  seed?: string;
  /** References that must exist afterwards: `TAG`, `@DIGEST`, `NAME:TAG`, `NAME@DIGEST` (placeholders allowed). */
  expect?: readonly string[];
  /** Runs after a scenario whose client succeeded; false (or exit ≠ 0) fails the scenario. */
  verify?: ClientRun;
  /** Told of each scenario's result as it is judged (the CLI prints a table row). */
  onResult?: (result: ScenarioResult) => void;
}

export interface ScenarioResult {
  name: string;
  summary: string;
  expects: string;
  expectation: Scenario['expectation'];
  source: string;
  /** pass: the expectation met and no MUST finding. */
  result: 'pass' | 'fail';
  /** Why it failed (empty for a pass). */
  reasons: string[];
  timedOut: boolean;
  exitCode: number | null;
  output: string;
  /** Faults of the scenario and how often each applied; a fault never applied means the scenario did not exercise the client. */
  faults: { id: string; hits: number }[];
  startedAt: number;
  durationMs: number;
  repository: string;
  requests: JournalEntry[];
  findings: Finding[];
}

export interface CheckReport {
  startedAt: number;
  durationMs: number;
  /** The command checked (CLI), for the report's heading. */
  command?: string[];
  results: ScenarioResult[];
  passed: number;
  failed: number;
  /** Every scenario passed. */
  ok: boolean;
}

const DEFAULT_TIMEOUT_MS = 60_000;
/** Output kept per scenario: the end, where errors are. */
const OUTPUT_LIMIT = 16 * 1024;
const USERNAME = 'oci-check';

function keepEnd(text: string): string {
  return text.length > OUTPUT_LIMIT ? `…${text.slice(-OUTPUT_LIMIT)}` : text;
}

/** `{registry}`, `{url}`, `{repository}` (and `{ca}`, `{certdir}` in TLS scenarios) replaced by the target's values. */
export function substitute(text: string, target: CheckTarget): string {
  const replaced = text.replaceAll('{registry}', target.registry).replaceAll('{url}', target.url).replaceAll('{repository}', target.repository);
  return target.ca ? replaced.replaceAll('{ca}', target.ca.file).replaceAll('{certdir}', target.ca.dir) : replaced;
}

/** Process groups of the commands running now, so an interrupted check can end them (they are detached from its terminal). */
const runningGroups = new Set<number>();

/** Kills every client command still running (SIGINT/SIGTERM of the check process). */
export function killRunningClients(): void {
  for (const pid of runningGroups) {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/**
 * A command as the client: run with the target's environment and the
 * placeholders replaced, in a process group of its own so a timeout ends
 * everything it started.
 */
export function commandClient(command: readonly string[], options: { shell?: boolean } = {}): ClientRun {
  return (target, signal) =>
    new Promise((resolve) => {
      const [file, ...args] = command.map((part) => substitute(part, target));
      const child = spawn(options.shell ? '/bin/sh' : file!, options.shell ? ['-c', [file, ...args].join(' ')] : args, {
        env: { ...process.env, ...target.env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      if (child.pid !== undefined) runningGroups.add(child.pid);
      let output = '';
      const collect = (chunk: Buffer) => {
        output = keepEnd(output + chunk.toString('utf8'));
      };
      child.stdout.on('data', collect);
      child.stderr.on('data', collect);
      const kill = () => {
        try {
          // The whole group: a shell's children would otherwise outlive it.
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      };
      signal.addEventListener('abort', kill, { once: true });
      child.once('error', (error) => {
        signal.removeEventListener('abort', kill);
        resolve({ exitCode: null, output: `${output}${error.message}\n` });
      });
      child.once('close', (code) => {
        if (child.pid !== undefined) runningGroups.delete(child.pid);
        signal.removeEventListener('abort', kill);
        resolve({ exitCode: code, output });
      });
    });
}

function parseExpectation(ref: string, target: CheckTarget): { name: string; reference: string } {
  let text = substitute(ref, target);
  if (text.startsWith(`${target.registry}/`)) text = text.slice(target.registry.length + 1);
  const at = text.indexOf('@');
  if (at !== -1) return { name: text.slice(0, at) || target.repository, reference: text.slice(at + 1) };
  const colon = text.lastIndexOf(':');
  if (colon > 0 && !text.slice(colon).includes('/')) return { name: text.slice(0, colon), reference: text.slice(colon + 1) };
  return { name: target.repository, reference: text.replace(/^:/, '') };
}

/** Every manifest of the repository complete: each blob and child manifest present with the size it declares. */
async function contentProblems(registry: RunningRegistry, name: string): Promise<string[]> {
  const problems: string[] = [];
  const contents = await registry.store.contents(name);
  for (const digest of contents?.manifests ?? []) {
    const stored = await registry.store.manifest(name, digest);
    if (!stored) continue;
    const parsed = parseManifest(stored.bytes, stored.mediaType);
    for (const blob of parsed.blobs) {
      if (blob.optional) continue;
      const held = await registry.store.blob(name, blob.digest);
      if (!held) problems.push(`manifest ${digest} names blob ${blob.digest}, which ${name} does not hold`);
      else if (held.size !== blob.size) problems.push(`manifest ${digest} gives blob ${blob.digest} size ${blob.size}; it has ${held.size}`);
    }
    for (const child of parsed.manifests) {
      const held = await registry.store.manifest(name, child.digest);
      if (!held) problems.push(`index ${digest} names manifest ${child.digest}, which ${name} does not hold`);
      else if (held.bytes.length !== child.size) problems.push(`index ${digest} gives manifest ${child.digest} size ${child.size}; it has ${held.bytes.length}`);
    }
  }
  return problems;
}

function registryOptions(scenario: Scenario, password: string): RegistryOptions {
  const users = { [USERNAME]: password };
  const auth = scenario.auth === 'basic' ? { basic: { users } } : scenario.auth === 'token' ? { token: { users, anonymous: false as const } } : undefined;
  // The opaque _state parameter lets upload-url-built notice URLs the client made up.
  return { ...scenario.options, uploadState: true, ...(auth ? { auth } : {}) };
}

function targetOf(registry: RunningRegistry, scenario: Scenario, password: string, ca: CheckTarget['ca']): CheckTarget {
  const repository = `check/${scenario.name}`;
  const target: CheckTarget = { registry: registry.host, url: registry.url, repository, scenario: scenario.name, env: {}, ...(ca && { ca }) };
  if (scenario.auth) Object.assign(target, { username: USERNAME, password });
  target.env = {
    OCI_REGISTRY: target.registry,
    OCI_REGISTRY_URL: target.url,
    OCI_REPOSITORY: repository,
    OCI_CHECK_SCENARIO: scenario.name,
    ...(scenario.auth ? { OCI_USERNAME: USERNAME, OCI_PASSWORD: password } : {}),
    ...(ca ? { OCI_CA_FILE: ca.file, OCI_CERT_DIR: ca.dir } : {}),
  };
  return target;
}

/** Runs `client` with a deadline; on timeout the signal aborts and the client gets a moment to be killed. */
async function runWithin(client: ClientRun, target: CheckTarget, timeoutMs: number): Promise<ClientOutcome & { timedOut: boolean }> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const running = client(target, controller.signal);
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const first = await Promise.race([running, deadline]);
  clearTimeout(timer);
  if (first !== 'timeout') return { ...first, timedOut: false };
  controller.abort();
  // A killed command ends at once; an in-process client may never settle, so it is not waited for long.
  const late = await Promise.race([running, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 2000).unref())]);
  return { exitCode: null, output: `${late?.output ?? ''}\n[stopped after ${timeoutMs / 1000} s]`, timedOut: true };
}

/** One scenario, start to verdict. */
export async function runScenario(scenario: Scenario, client: ClientRun, options: CheckOptions = {}): Promise<ScenarioResult> {
  const password = randomBytes(12).toString('hex');
  const internalErrors: string[] = [];
  const registry = await startRegistry({ ...registryOptions(scenario, password), onError: (error) => internalErrors.push(error.message) });
  let cleanup: (() => Promise<void>) | undefined;
  try {
    const ca = registry.tls?.ca === undefined ? undefined : await writeCa(registry.tls.ca);
    cleanup = ca ? () => rm(ca.dir, { recursive: true, force: true }) : undefined;
    const target = targetOf(registry, scenario, password, ca);
    // The repository exists before the client runs, as a user creates it in
    // the console of a registry that wants that (the ECR, GAR and Harbor
    // profiles refuse a push to an uncreated one); elsewhere an empty
    // repository changes nothing a client sees.
    await registry.store.createRepository(target.repository);
    if (options.seed !== undefined) await importLayout(registry.store, options.seed, { name: target.repository });
    for (let i = 1; i <= (scenario.seedTags ?? 0); i++) await registry.store.pushImage(target.repository, { tag: `t${i}`, layers: ['tags-paged'] });
    const seeded = new Set((await registry.store.contents(target.repository))?.blobs.map((d) => `${target.repository}\0${d}`) ?? []);

    const startedAt = Date.now();
    const began = performance.now();
    const outcome = await runWithin(client, target, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const succeeded = outcome.exitCode === 0;
    const reasons: string[] = [];
    if (outcome.timedOut) reasons.push(`timed out after ${(options.timeoutMs ?? DEFAULT_TIMEOUT_MS) / 1000} s`);
    else if (!succeeded && scenario.expectation === 'succeed') reasons.push(`exit ${outcome.exitCode ?? 'signal'}: a well-behaved client succeeds here`);

    if (succeeded) {
      reasons.push(...(await contentProblems(registry, target.repository)));
      for (const ref of options.expect ?? []) {
        const { name, reference } = parseExpectation(ref, target);
        if (!(await registry.store.manifest(name, reference))) reasons.push(`--expect ${ref}: ${name} holds no ${reference}`);
      }
      if (options.verify) {
        const verified = await runWithin(options.verify, target, options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
        if (verified.exitCode !== 0) reasons.push(`--verify ${verified.timedOut ? 'timed out' : `exit ${verified.exitCode ?? 'signal'}`}: ${verified.output.trim().split('\n').pop() ?? ''}`);
      }
    }
    const durationMs = Math.round(performance.now() - began);
    const requests = registry.journal.all();
    const findings = detectFindings(requests, {
      clientSucceeded: succeeded,
      maxPageSize: registry.options.maxPageSize,
      bodyMediaType: await pushedBodyTypes(registry.store, requests),
      seeded,
    });
    const must = findings.filter((f) => f.severity === 'MUST');
    if (must.length > 0) reasons.push(`${must.length} MUST finding${must.length > 1 ? 's' : ''}: ${[...new Set(must.map((f) => f.rule))].join(', ')}`);
    if (internalErrors.length > 0) reasons.push(`registry internal error: ${internalErrors.join('; ')}`);
    const result: ScenarioResult = {
      name: scenario.name,
      summary: scenario.summary,
      expects: scenario.expects,
      expectation: scenario.expectation,
      source: scenario.source,
      result: reasons.length === 0 ? 'pass' : 'fail',
      reasons,
      timedOut: outcome.timedOut,
      exitCode: outcome.exitCode,
      output: outcome.output,
      faults: registry.faults.list().map((f) => ({ id: f.id, hits: f.hits })),
      startedAt,
      durationMs,
      repository: target.repository,
      requests,
      findings,
    };
    options.onResult?.(result);
    return result;
  } finally {
    await registry.close();
    await cleanup?.();
  }
}

/** The CA of a TLS scenario as files a client can be pointed at; removed after the scenario. */
async function writeCa(pem: string): Promise<NonNullable<CheckTarget['ca']>> {
  const dir = await mkdtemp(join(tmpdir(), 'oci-check-ca-'));
  const file = join(dir, 'ca.crt');
  await writeFile(file, pem);
  return { pem, file, dir };
}

/** Runs the selected scenarios one after another and gathers the report. */
export async function runCheck(client: ClientRun, options: CheckOptions = {}): Promise<CheckReport> {
  const selected = selectScenarios(options.scenarios);
  const startedAt = Date.now();
  const began = performance.now();
  const results: ScenarioResult[] = [];
  for (const scenario of selected) results.push(await runScenario(scenario, client, options));
  const passed = results.filter((r) => r.result === 'pass').length;
  return { startedAt, durationMs: Math.round(performance.now() - began), results, passed, failed: results.length - passed, ok: passed === results.length };
}

/**
 * Checks a Node client library in-process: `run(target)` is the client code
 * under test (push, pull… against `target.url` / `target.repository`); it
 * succeeds by resolving and fails by throwing. Resolves with the report; a
 * `run` still pending at the timeout is abandoned and the scenario fails.
 */
export async function checkClient(run: (target: CheckTarget) => Promise<unknown>, options: CheckOptions = {}): Promise<CheckReport> {
  return runCheck(async (target) => {
    try {
      await run(target);
      return { exitCode: 0, output: '' };
    } catch (error) {
      return { exitCode: 1, output: keepEnd(error instanceof Error ? (error.stack ?? error.message) : String(error)) };
    }
  }, options);
}
