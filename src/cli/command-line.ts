/**
 * The command line read into a CommandLine: parseArgs, the environment
 * (OCI_TEST_REGISTRY_*, PORT), flag order, and usage errors that name the flag.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_OPTIONS, resolveOptions, type RegistryOptions } from '../options.js';
import { isName, isTag } from '../oci/reference.js';
import { closestName } from '../suggest.js';
import { UPSTREAM_FIELD_FLAGS, applyUpstreamFields, type UpstreamFieldFlag } from './mirror.js';
import { applyTlsFlag, TLS_ARGS, type CaOutput } from './tls.js';
import { flagsFromEnvironment } from './environment.js';
import { BY_FLAG, CLI_FLAGS, DEFAULT_PORT, ENV_FLAGS, FALSE, OPTIONAL_VALUE, OPTION_FLAGS, PROGRAM, TRUE, UsageError, example, flagName, parseValue, type OptionFlag } from './flags.js';

/** One `--seed` argument: `DIR`, `NAME=DIR` or `NAME:TAG=DIR`. */
interface Seed {
  arg: string;
  dir: string;
  name?: string;
  tag?: string;
}

export interface CommandLine {
  help: boolean;
  profiles?: boolean;
  version: boolean;
  json: boolean;
  log?: 'text' | 'json';
  seeds: Seed[];
  exportDir?: string;
  /** Where to write the generated CA (--ca-out, --certs-dir). */
  ca: CaOutput;
  options: RegistryOptions & { host: string; port: number };
}

type ParseArgsOptions = Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }>;

/** The parseArgs configuration: every registry option (switches in both spellings) and the CLI's own flags. */
function parseArgsOptions(): ParseArgsOptions {
  const options: ParseArgsOptions = {
    seed: { type: 'string', multiple: true },
    export: { type: 'string' },
    json: { type: 'boolean' },
    log: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
    profiles: { type: 'boolean' },
    ...TLS_ARGS,
  };
  for (const [name, flag] of Object.entries(UPSTREAM_FIELD_FLAGS)) options[name] = { type: flag.value ? 'string' : 'boolean' };
  for (const [name, { flag }] of BY_FLAG) {
    if (flag.kind === 'switch') options[name] = { type: 'boolean' };
    else options[name] = { type: 'string', multiple: flag.kind === 'list' || flag.kind === 'faults' };
    if (flag.kind === 'switch' || flag.kind === 'redirect') options[`no-${name}`] = { type: 'boolean' };
  }
  return options;
}

/**
 * Rewrites what parseArgs cannot read: flags with an optional value
 * (`--log`, `--log json`, `--blob-redirect`) and switches with a value
 * (`--deletes=false`).
 */
function normalize(argv: readonly string[], config: ParseArgsOptions): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const bare = /^--([a-z-]+)$/.exec(arg)?.[1];
    if (bare !== undefined && OPTIONAL_VALUE[bare] !== undefined) {
      const next = argv[i + 1];
      if (next !== undefined && !next.startsWith('-')) {
        out.push(`--${bare}=${next}`);
        i++;
      } else {
        out.push(`--${bare}=${OPTIONAL_VALUE[bare]}`);
      }
      continue;
    }
    const inline = /^--([a-z-]+)=(.*)$/s.exec(arg);
    if (inline && BY_FLAG.get(inline[1]!)?.flag.kind === 'switch') {
      const [, name, value] = inline as unknown as [string, string, string];
      if (TRUE.has(value.toLowerCase())) out.push(`--${name}`);
      else if (FALSE.has(value.toLowerCase())) out.push(`--no-${name}`);
      else throw new UsageError(`invalid value ${JSON.stringify(value)} for --${name}: use --${name} or --no-${name} (or =true / =false)`);
      continue;
    }
    out.push(arg);
    // The value of a string flag passes through untouched, even if it looks like a flag.
    if (bare !== undefined && config[bare]?.type === 'string' && i + 1 < argv.length) out.push(argv[++i]!);
  }
  return out;
}

/** Turns parseArgs' messages (written for programs with positionals) into ours: the problem and the fix. */
function usageFromParseError(error: Error & { code?: string }, config: ParseArgsOptions): UsageError {
  const quoted = /'([^']*)'/.exec(error.message)?.[1] ?? '';
  const option = quoted.split(' ')[0]!;
  switch (error.code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const word = option.replace(/^-+/, '').split('=')[0]!;
      const guess = closestName(word, Object.keys(config));
      return new UsageError(`unknown option ${option}${guess ? ` (did you mean --${guess}?)` : ''}: see --help for the options`);
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return new UsageError(`unexpected argument ${JSON.stringify(quoted)}: ${PROGRAM} takes only options (--name value); see --help`);
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const name = option.replace(/^-+/, '');
      if (/does not take an argument/.test(error.message)) return new UsageError(`${option} takes no value: write ${option} alone`);
      const row = BY_FLAG.get(name);
      const sample = row ? example(row.flag) : (CLI_FLAGS as Record<string, { example: string }>)[name]?.example;
      return new UsageError(`${option} needs a value${sample ? `, e.g. ${option} ${sample}` : ''}`);
    }
    default:
      return new UsageError(error.message);
  }
}

function parseSeed(arg: string): Seed {
  const eq = arg.indexOf('=');
  // `NAME[:TAG]=DIR`; a directory whose path holds '=' is written ./PATH or as an absolute path.
  if (eq <= 0 || /^[./~\\]/.test(arg)) {
    if (arg === '') throw new UsageError('--seed needs a directory, e.g. --seed ./layout');
    return { arg, dir: arg };
  }
  const ref = arg.slice(0, eq);
  const dir = arg.slice(eq + 1);
  const colon = ref.lastIndexOf(':');
  const name = colon >= 0 ? ref.slice(0, colon) : ref;
  const tag = colon >= 0 ? ref.slice(colon + 1) : undefined;
  const hint = '--seed takes DIR, NAME=DIR or NAME:TAG=DIR (write ./PATH for a directory whose name holds "=")';
  if (!isName(name)) throw new UsageError(`invalid repository name ${JSON.stringify(name)} in --seed ${arg}: names are lowercase a-z, 0-9 and . _ - /; ${hint}`);
  if (tag !== undefined && !isTag(tag)) throw new UsageError(`invalid tag ${JSON.stringify(tag)} in --seed ${arg}: a tag is up to 128 of A-Z a-z 0-9 _ . -; ${hint}`);
  if (dir === '') throw new UsageError(`--seed ${arg} names no directory after "=": ${hint}`);
  return tag === undefined ? { arg, dir, name } : { arg, dir, name, tag };
}

/** Reads argv and the environment into a command line, or throws a UsageError that says what to fix. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): CommandLine {
  const fromEnv = flagsFromEnvironment(env, ENV_FLAGS);
  for (const { variable, arg } of fromEnv) {
    try {
      parseCommandLine([arg], {});
    } catch (error) {
      throw error instanceof UsageError ? new UsageError(`invalid $${variable}: ${error.message}`) : error;
    }
  }
  // Written before the command line's own flags, so those win.
  argv = [...fromEnv.map(({ arg }) => arg), ...argv];
  const config = parseArgsOptions();
  let tokens;
  try {
    ({ tokens } = parseArgs({ args: normalize(argv, config), options: config, strict: true, allowPositionals: false, tokens: true }));
  } catch (error) {
    if (error instanceof UsageError) throw error;
    throw usageFromParseError(error as Error & { code?: string }, config);
  }
  const line: CommandLine = { help: false, version: false, json: false, seeds: [], ca: {}, options: { host: DEFAULT_OPTIONS.host, port: DEFAULT_PORT } };
  const options = line.options as unknown as Record<string, unknown>;
  let portGiven = false;
  const upstreamFields: [UpstreamFieldFlag, string | undefined][] = [];
  // Tokens in order: a later flag overrides an earlier one (--no-deletes --deletes → on); lists add up.
  for (const token of tokens) {
    if (token.kind !== 'option') continue;
    const { name, value } = token;
    switch (name) {
      case 'help': line.help = true; continue;
      case 'profiles': line.profiles = true; continue;
      case 'version': line.version = true; continue;
      case 'json': line.json = true; continue;
      case 'seed': line.seeds.push(parseSeed(value!)); continue;
      case 'export':
        if (value === '') throw new UsageError('--export needs a directory, e.g. --export ./registry-export');
        line.exportDir = value!;
        continue;
      case 'log':
        if (value !== 'text' && value !== 'json') throw new UsageError(`invalid value ${JSON.stringify(value)} for --log: use --log (text lines) or --log json`);
        line.log = value;
        continue;
    }
    if (Object.hasOwn(UPSTREAM_FIELD_FLAGS, name)) {
      upstreamFields.push([name as UpstreamFieldFlag, value]);
      continue;
    }
    try {
      if (applyTlsFlag(name, value ?? '', line.options, line.ca)) continue;
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const negated = name.startsWith('no-') && !BY_FLAG.has(name);
    const { key, flag } = BY_FLAG.get(negated ? name.slice(3) : name)!;
    if (negated) options[key] = false;
    else if (flag.kind === 'list') options[key] = [...((options[key] as unknown[] | undefined) ?? []), parseValue(flag, name, value!)];
    else if (flag.kind === 'mirror') options[key] = { ...(options[key] as object | undefined), ...(parseValue(flag, name, value!) as object) };
    else if (flag.kind === 'faults') options[key] = [...((options[key] as unknown[] | undefined) ?? []), ...(parseValue(flag, name, value!) as unknown[])];
    else options[key] = parseValue(flag, name, value ?? '');
    if (key === 'port') portGiven = true;
  }
  // The journal and its request events are read only through the control
  // routes, so without --control nothing could ever read them: keep none
  // unless --journal-limit asks (keeping them was 14 % of a manifest PUT's
  // server CPU).
  if (options.journalLimit === undefined && options.control !== true) options.journalLimit = 0;
  const upstreamProblem = applyUpstreamFields(line.options, upstreamFields, env);
  if (upstreamProblem) throw new UsageError(upstreamProblem);
  if (!portGiven && env.PORT !== undefined && env.PORT !== '') {
    if (!/^\d{1,5}$/.test(env.PORT) || Number(env.PORT) > 65535) {
      throw new UsageError(`invalid $PORT ${JSON.stringify(env.PORT)}: set it to a port number from 0 to 65535, or give --port`);
    }
    line.options.port = Number(env.PORT);
  }
  // The ranges are the library's: ask it, and name the flag in its answer.
  try {
    resolveOptions(line.options);
  } catch (error) {
    throw new UsageError(inFlagTerms((error as Error).message));
  }
  return line;
}

/** The library names options (`option maxPageSize must …`); the command line names flags (`--max-page-size must …`). */
export function inFlagTerms(message: string): string {
  // tls.cert → --tls-cert, tls.clientCa → --tls-client-ca, tls.hosts → --tls-host: the tls object's parts are flags of their own.
  return message
    .replace(/\boption tls\.(\w+)/, (_, part: string) => `--tls-${flagName(part === 'hosts' ? 'host' : part)}`)
    .replace(/\btls\.(cert|key)\b/g, '--tls-$1')
    .replace(/\boption (\w+)(\.\w+)?/, (_, key: string) => `--${(OPTION_FLAGS as Partial<Record<string, OptionFlag>>)[key]?.flag ?? flagName(key)}`);
}

