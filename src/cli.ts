// schedlab command line. Exit codes: 0 success, 1 failure (or compare found differences), 2 bad input or config.
// Each command lives in its own module under src/cli/ and loads what it uses when it runs (DuckDB,
// Vega, WebGPU only where needed). To add a command, write src/cli/<name>.ts exporting
// register<Name>(program) and add it to COMMANDS.
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { registerBench } from './cli/bench.js';
import { registerCalibrate } from './cli/calibrate.js';
import { registerBest } from './cli/best.js';
import { registerCompare } from './cli/compare.js';
import { registerDemo } from './cli/demo.js';
import { registerMerge } from './cli/merge.js';
import { registerPaper } from './cli/paper.js';
import { registerQuery } from './cli/query.js';
import { registerReport } from './cli/report.js';
import { registerRun } from './cli/run.js';
import { registerSweep } from './cli/sweep.js';
import { PACKAGE_ROOT } from './package-root.js';
import { printableMessage } from './printable.js';

const COMMANDS: ((program: Command) => void)[] = [
  registerRun,
  registerDemo,
  registerCompare,
  registerBench,
  registerSweep,
  registerMerge,
  registerQuery,
  registerBest,
  registerReport,
  registerPaper,
  registerCalibrate,
];

export const VERSION: string = JSON.parse(readFileSync(new URL('package.json', PACKAGE_ROOT), 'utf8')).version;

/** Where unexpected errors should be reported. */
const REPORT_TO = 'please report it to the schedlab maintainers (the issue tracker of the repository you got schedlab from)';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('schedlab')
    .description('Replay LLM request traces against routers x engine schedulers; CPU reference or thousands of lanes on WebGPU')
    .version(VERSION, '-V, --version', 'print the version')
    .option('--debug', 'print the stack trace of unexpected errors (also SCHEDLAB_DEBUG=1)')
    .showHelpAfterError('(add --help for usage)')
    .exitOverride(); // before adding commands, which inherit it: errors come back to main() for exit code 2
  for (const register of COMMANDS) register(program);
  return program;
}

/** `file:line` of the first stack frame, relative to the package. */
function whereThrown(e: Error): string {
  const frame = /\((.*?):(\d+):\d+\)|at (\/.*?|file:.*?):(\d+):\d+/.exec(e.stack?.split('\n').slice(1).join('\n') ?? '');
  if (!frame) return 'unknown place';
  const file = frame[1] ?? frame[3];
  const path = file.startsWith('file:') ? fileURLToPath(file) : file;
  const root = fileURLToPath(PACKAGE_ROOT);
  return `${path.startsWith(root) ? path.slice(root.length) : path}:${frame[2] ?? frame[4]}`;
}

/** Prints an error the way the exit-code contract says, and returns the exit code. */
export function reportError(e: unknown, debug: boolean): number {
  const err = (e instanceof Error ? e : new Error(String(e))) as Error & { code?: string; syscall?: string; path?: string };
  const say = (text: string) => process.stderr.write(printableMessage(`schedlab: ${text}`) + '\n');
  if (err.code?.startsWith('commander.')) {
    // commander already printed the message
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
  }
  if (err.name === 'ConfigError' || err.name === 'TraceError') {
    say(err.message);
    return 2;
  }
  if (err.name === 'GpuEngineError') {
    say(err.message);
    return 1;
  }
  if (err.syscall && err.code) {
    // The machine, not schedlab: a full disk, a file vanishing, too many open files.
    say(`${err.syscall} ${err.path ?? ''} failed: ${err.code} (${err.message})`);
    if (debug) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
  say(`internal error: ${err.message} (at ${whereThrown(err)})`);
  process.stderr.write(`This is a bug in schedlab, not in your input: ${REPORT_TO}, with the command you ran and this message.\n`);
  if (debug) process.stderr.write(`${err.stack}${err.cause ? `\ncaused by: ${String(err.cause)}` : ''}\n`);
  else process.stderr.write('Run again with SCHEDLAB_DEBUG=1 (or schedlab --debug <command>) for the stack trace.\n');
  return 1;
}

/** --debug comes before the command name, like every program-wide option. */
function debugRequested(argv: string[]): boolean {
  if (process.env.SCHEDLAB_DEBUG && process.env.SCHEDLAB_DEBUG !== '0') return true;
  for (const a of argv.slice(2)) {
    if (a === '--debug') return true;
    if (!a.startsWith('-')) return false;
  }
  return false;
}

export async function main(argv = process.argv): Promise<number> {
  // Commands set process.exitCode (compare: 1 when records differ); main() owns it and returns it.
  const outer = process.exitCode;
  process.exitCode = undefined;
  try {
    await buildProgram().parseAsync(argv);
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (e) {
    return reportError(e, debugRequested(argv));
  } finally {
    process.exitCode = outer;
    const { releaseEngines } = await import('./sim/engine.js');
    await releaseEngines();
  }
}

/** The process entry (bin/schedlab.js, or `tsx src/cli.ts`): runs main and exits with its code. */
export async function runCli(argv = process.argv): Promise<never> {
  const fatal = (e: unknown) => process.exit(reportError(e, debugRequested(argv)));
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  // Explicit exit: dawn.node can keep the event loop alive after the device is released.
  process.exit(await main(argv));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void runCli();
