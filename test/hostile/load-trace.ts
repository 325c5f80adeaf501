// Child process of big-trace.test.ts: loads one trace and prints what it holds and the peak memory.
import { loadTrace } from '../../src/trace/readers.js';

const trace = loadTrace(process.argv[2]);
const n = trace.arrivalUs.length;
process.stdout.write(JSON.stringify({ requests: n, lastArrivalUs: trace.arrivalUs[n - 1], promptSum: trace.promptTokens.reduce((a, b) => a + b, 0), maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
