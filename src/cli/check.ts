/**
 * `oci-test-registry check [flags] -- COMMAND ARGS…`: runs COMMAND once per
 * scenario against a registry configured for it, prints a table and writes
 * the reports. Exit 0 when every scenario passed, 1 otherwise, 2 on bad usage.
 */
import { parseArgs } from 'node:util';
import { commandClient, killRunningClients, runCheck, type CheckOptions } from '../check/runner.js';
import { formatCatalogue, selectScenarios } from '../check/scenarios.js';
import { summaryLine, tableHeader, tableRow, writeReports } from '../check/report.js';

const PROGRAM = 'oci-test-registry check';

export const CHECK_HELP = `Usage: oci-test-registry check [flags] -- COMMAND ARGS…

Runs COMMAND once per scenario, each against a fresh registry that misbehaves
in one way, and judges the client: its exit status, the content it left, and
what it did that the spec forbids (findings). COMMAND gets OCI_REGISTRY
(host:port), OCI_REGISTRY_URL, OCI_REPOSITORY, OCI_CHECK_SCENARIO, and
OCI_USERNAME / OCI_PASSWORD when the scenario needs credentials, and
OCI_CA_FILE / OCI_CERT_DIR (ca.crt) in the TLS scenarios; {registry}, {url},
{repository}, {ca} and {certdir} in ARGS are replaced the same way.

  --scenarios LIST   names or globs, comma-separated or repeated (default: all but tls, h2)
  --list             print the scenario catalogue and exit
  --report DIR       write DIR/report.json, DIR/junit.xml, DIR/report.html
  --timeout S        seconds per scenario before the client is killed (default 60)
  --seed LAYOUT      import this OCI image layout into the repository first
  --expect REF       must exist afterwards: TAG, @DIGEST, NAME:TAG (repeatable)
  --verify CMD       shell command run after each successful client run (exit 0 = good)
  --shell            run COMMAND ARGS… through /bin/sh -c (for \${OCI_USERNAME:+…})
  --help             print this help

Exit 0 when every scenario passed, 1 otherwise, 2 on bad usage.
`;

function usage(message: string): number {
  process.stderr.write(`${PROGRAM}: ${message}\n(see oci-test-registry check --help)\n`);
  return 2;
}

/** Runs the check command line; resolves with the exit status. */
export async function checkMain(argv: readonly string[]): Promise<number> {
  const dash = argv.indexOf('--');
  const flags = dash === -1 ? argv : argv.slice(0, dash);
  const command = dash === -1 ? [] : argv.slice(dash + 1);
  let values;
  try {
    ({ values } = parseArgs({
      args: [...flags],
      strict: true,
      allowPositionals: false,
      options: {
        scenarios: { type: 'string', multiple: true },
        list: { type: 'boolean' },
        report: { type: 'string' },
        timeout: { type: 'string' },
        seed: { type: 'string' },
        expect: { type: 'string', multiple: true },
        verify: { type: 'string' },
        shell: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    }));
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(CHECK_HELP);
    return 0;
  }
  const patterns = (values.scenarios ?? []).flatMap((s) => s.split(',')).filter((s) => s.trim() !== '');
  let selected;
  try {
    selected = selectScenarios(patterns);
  } catch (error) {
    return usage((error as Error).message);
  }
  if (values.list) {
    // The whole catalogue unless --scenarios narrows it: scenarios outside the default set are listed too, marked.
    process.stdout.write(formatCatalogue(patterns.length > 0 ? selected : undefined));
    return 0;
  }
  if (command.length === 0) return usage('give the client command after --, e.g. check -- skopeo copy … docker://{registry}/{repository}:v1');
  let timeoutMs: number | undefined;
  if (values.timeout !== undefined) {
    const seconds = Number(values.timeout);
    if (!(seconds > 0 && Number.isFinite(seconds))) return usage(`--timeout must be a positive number of seconds, got ${JSON.stringify(values.timeout)}`);
    timeoutMs = seconds * 1000;
  }
  const options: CheckOptions = {
    scenarios: patterns,
    timeoutMs,
    seed: values.seed,
    expect: values.expect,
    verify: values.verify === undefined ? undefined : commandClient([values.verify], { shell: true }),
    onResult: (result) => process.stdout.write(tableRow(result)),
  };
  // Clients run in process groups of their own (so a timeout can end all they started): an interrupted check ends them itself.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killRunningClients();
      process.stderr.write(`${PROGRAM}: ${signal}: stopped\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.stdout.write(tableHeader());
  let report;
  try {
    report = await runCheck(commandClient(command, { shell: values.shell }), options);
  } catch (error) {
    // A seed layout that cannot be read is a usage problem, found on the first scenario.
    return usage((error as Error).message);
  }
  report.command = [...command];
  process.stdout.write(summaryLine(report));
  if (values.report !== undefined) {
    const files = await writeReports(report, values.report);
    process.stdout.write(`report: ${files.join(', ')}\n`);
  }
  return report.ok ? 0 : 1;
}
