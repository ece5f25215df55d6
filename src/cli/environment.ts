/**
 * Flags from the environment, for where a command line is awkward to give:
 * a container image (`docker run -e`), a CI `services:` block, a
 * testcontainers `withEnvironment`. Every registry option and `--log` reads
 * `OCI_TEST_REGISTRY_<FLAG>` (the flag name in capitals, `-` as `_`:
 * `--max-page-size` is `OCI_TEST_REGISTRY_MAX_PAGE_SIZE`); the port keeps
 * the plain `PORT` every platform sets. Values are what the flag takes
 * (`true`/`false` for switches). A variable reads as the same flag written
 * before the command line's own, so a flag given on the command line wins.
 */

/** The prefix of every variable but PORT. */
export const ENV_PREFIX = 'OCI_TEST_REGISTRY_';

/** `max-page-size` → `OCI_TEST_REGISTRY_MAX_PAGE_SIZE`. */
export function variableName(flag: string): string {
  return ENV_PREFIX + flag.toUpperCase().replaceAll('-', '_');
}

/**
 * The flags set in `env`, in the order of `flags`, each as `--flag=value`
 * with the variable it came from. Empty variables count as unset.
 */
export function flagsFromEnvironment(env: NodeJS.ProcessEnv, flags: readonly string[]): { variable: string; arg: string }[] {
  const found: { variable: string; arg: string }[] = [];
  for (const flag of flags) {
    const variable = variableName(flag);
    const value = env[variable];
    if (value !== undefined && value !== '') found.push({ variable, arg: `--${flag}=${value}` });
  }
  return found;
}

/** The --help paragraph naming the variables (one line: the help wraps it). */
export function environmentHelp(flags: readonly string[]): string {
  return (
    `Environment: PORT is --port; ${ENV_PREFIX}<FLAG> is --<flag> (capitals, _ for -; ` +
    `switches take true or false), and a flag on the command line wins: ${flags.map(variableName).join(', ')}.`
  );
}
