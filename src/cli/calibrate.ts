// `schedlab calibrate`: its options; the fitter loads when the command runs (docs/profiles.md, "Calibrating").
import { InvalidArgumentError, type Command } from 'commander';
import type { CalibrateOptions } from '../calibrate/command.js';
import { FIT_TERMS, type FitTerm } from '../calibrate/terms.js';
import { int } from '../cli-options.js';
import { DEFAULT_PROFILE } from '../model/profile.js';

const knotList = (value: string) => {
  const ks = value.split(',').map(Number);
  if (ks.some((k) => !Number.isInteger(k) || k < 0)) throw new InvalidArgumentError(`--knots must be comma-separated integers >= 0, got "${value}"`);
  return ks;
};

const pinTerm = (value: string, previous: Partial<Record<FitTerm, number>>) => {
  const m = /^(\w+)=(\d+)$/.exec(value);
  if (!m || !(FIT_TERMS as readonly string[]).includes(m[1])) {
    throw new InvalidArgumentError(`--pin takes TERM=INTEGER with TERM one of ${FIT_TERMS.join(', ')}, got "${value}"`);
  }
  return { ...previous, [m[1]]: Number(m[2]) };
};

export function registerCalibrate(program: Command): void {
  program
    .command('calibrate')
    .description('fit the iteration-time model from measured timings and print its error per regime')
    .option('--mlp <file>', "Vidur operator profile (mlp.csv): per-layer ms of the non-attention operators by num_tokens")
    .option('--attention <file>', "attention rows (Vidur attention.csv or its reduced columns); repeatable", (v: string, prev: string[]) => [...prev, v], [])
    .option('--all-reduce <file>', "Vidur all_reduce.csv of the node (needed with --tp above 1)")
    .option('--layers <n>', 'transformer layers of the model (with --mlp)', int('--layers', 1))
    .option('--tp <n>', 'tensor-parallel degree: the rows of the profiles to use', int('--tp', 1), 1)
    .option('--ratio-from <file>', 'with --ratio-to: time another GPU; operator profile (mlp.csv) of some model on the measured GPU')
    .option('--ratio-to <file>', 'the same model on the other GPU: kernel times scale by their ratio at each batch size (TP 1 rows)')
    .option('--iterations <file>', 'measured iterations CSV: prompt_tokens, decode_seqs, context_tokens, ms (more columns in docs/profiles.md)')
    .option('--knots <list>', 'segment starts of the batch-token table (default: the operator profile\'s largest steps, else chosen from the data)', knotList)
    .option('--step-tokens <n>', 'with --mlp: steps of the operator profile up to this batch size get knots', int('--step-tokens', 1), 1024)
    .option('--pin <term=value>', `hold a coefficient instead of fitting it (${FIT_TERMS.join(', ')}); repeatable`, pinTerm, {})
    .option('--max-tokens <n>', 'largest batch of the operator-only references', int('--max-tokens', 1), 16384)
    .option('--profile <name>', 'profile whose limits --out keeps (preset or .json)', DEFAULT_PROFILE)
    .option('--out <file>', 'write that profile with the fitted iterationNs as JSON')
    .option('--write-iterations <file>', 'write the iterations fitted to (references composed from --mlp, measured rows) as an --iterations CSV')
    .option('--json', 'print the fitted model and errors as JSON')
    .action(async (o: CalibrateOptions) => {
      const { calibrateCommand } = await import('../calibrate/command.js');
      calibrateCommand(o);
    });
}
