// The sessions workload (docs/traces.md, "Sessions"): multi-turn conversations that share system
// prompts, with prefix hashes, so that traces without hashes (Azure-style) can be studied with
// prefix caching. Each turn's prompt is the previous turn's prompt and answer plus a new message.
import type { Trace } from './trace.js';

export interface SessionShape {
  /** Sessions started per second (Poisson), over [0, durationS). */
  ratePerS: number;
  durationS: number;
  /** Mean turns per session (geometric, at least 1). */
  turns: number;
  /** Mean seconds from a turn's arrival to the next turn's (exponential). */
  thinkS: number;
  /** Shared system prompts, each session picking one uniformly, and their length in tokens. */
  systemPrompts: number;
  systemTokens: number;
  /** A session ends before a turn whose prompt + answer would exceed this many tokens. */
  maxContext: number;
  /** Prompt tokens per prefix hash. */
  hashBlock: number;
}

/** Where the generator's randomness comes from: uniforms in (0, 1) by (stream, counter), and (message, answer) lengths by counter. */
export interface SessionDraws {
  uniform(stream: number, counter: number): number;
  u32(stream: number, counter: number): number;
  lengths(counter: number): [number, number];
}

// Stream ids of the generator, beside the other synthetic streams of synthetic.ts.
const START = 0x7472_0005;
const TURNS = 0x7472_0006;
const THINK = 0x7472_0007;
const SYSTEM = 0x7472_0008;

interface Turn {
  arrivalUs: number;
  session: number;
  turn: number;
  prompt: number;
  output: number;
  hashes: number[];
}

/**
 * Session s starts at the s-th point of a Poisson process; its system prompt is u32(SYSTEM, s) mod
 * systemPrompts; it has 1 + floor(ln u / ln(1 - 1/turns)) turns (u = uniform(TURNS, s)); turn k + 1
 * arrives -ln u x thinkS after turn k (u = uniform(THINK, c), c counting turns of all sessions in
 * order), and its (message, answer) lengths are draw c. Turn 1's prompt is the system prompt and a
 * message; turn k + 1's is turn k's prompt and answer and a new message. Turns arriving at or after
 * the duration, or whose prompt + answer exceed maxContext, end the session.
 *
 * Hashes: prompt tokens are cut into units of hashBlock tokens. The full units of system prompt p
 * have ids p x floor(systemTokens / hashBlock) + u; turn k + 1 repeats the ids of turn k's full
 * units (its prompt starts with turn k's prompt) and every other unit gets a fresh id (counting up
 * from systemPrompts x floor(systemTokens / hashBlock)). Requests are ordered by (arrival, session, turn).
 */
export function buildSessions(o: SessionShape, d: SessionDraws): Omit<Trace, 'name' | 'source'> {
  const endUs = o.durationS * 1e6;
  const sysUnits = Math.floor(o.systemTokens / o.hashBlock);
  let fresh = o.systemPrompts * sysUnits;
  const turns: Turn[] = [];
  let c = 0;
  let t = 0;
  for (let s = 0; t < endUs; s++) {
    const start = Math.round(t);
    t += -Math.log(d.uniform(START, s)) * (1e6 / o.ratePerS);
    if (start >= endUs) break;
    const count = o.turns <= 1 ? 1 : 1 + Math.floor(Math.log(d.uniform(TURNS, s)) / Math.log(1 - 1 / o.turns));
    const sys = d.u32(SYSTEM, s) % o.systemPrompts;
    // The prompt the next turn extends (at first the system prompt) and its hashes.
    let hashes = Array.from({ length: sysUnits }, (_, u) => sys * sysUnits + u);
    let extended = o.systemTokens;
    let context = o.systemTokens;
    let arrival = start;
    for (let k = 0; k < count && arrival < endUs; k++, c++) {
      const [message, answer] = d.lengths(c);
      const prompt = context + message;
      if (prompt + answer > o.maxContext) break;
      // The full units of the extended prompt are shared; everything after them is new.
      hashes = hashes.slice(0, Math.floor(extended / o.hashBlock));
      while (hashes.length < Math.ceil(prompt / o.hashBlock)) hashes.push(fresh++);
      turns.push({ arrivalUs: arrival, session: s, turn: k, prompt, output: answer, hashes });
      extended = prompt;
      context = prompt + answer;
      arrival += Math.round(-Math.log(d.uniform(THINK, c)) * o.thinkS * 1e6);
    }
  }
  turns.sort((a, b) => a.arrivalUs - b.arrivalUs || a.session - b.session || a.turn - b.turn);
  const offsets = new Uint32Array(turns.length + 1);
  turns.forEach((x, i) => (offsets[i + 1] = offsets[i] + x.hashes.length));
  const prefixHashes = new Uint32Array(offsets[turns.length]);
  turns.forEach((x, i) => prefixHashes.set(x.hashes, offsets[i]));
  return {
    arrivalUs: Float64Array.from(turns, (x) => x.arrivalUs),
    promptTokens: Uint32Array.from(turns, (x) => x.prompt),
    outputTokens: Uint32Array.from(turns, (x) => x.output),
    prefixHashes,
    prefixOffsets: offsets,
    prefixBlockTokens: o.hashBlock,
    skippedRows: 0,
  };
}
