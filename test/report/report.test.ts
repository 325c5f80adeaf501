// The sweep report in a real headless browser (Debian `chromium` driven by playwright-core).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeReport } from '../../src/report/report.js';
import { runSweep } from '../../src/sweep/sweep.js';

const root = join(__dirname, '..', '..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--disable-sync'];
const work = mkdtempSync(join(tmpdir(), 'schedlab-report-'));
const dir = join(work, 'results');
let reportPath = '';

beforeAll(async () => {
  const spec = join(work, 'spec.yaml');
  writeFileSync(
    spec,
    `name: report-test
traces:
  azure: { path: ${join(root, 'traces/azure-conv-2023.csv')}, format: azure }
fixed: { window.duration: 20, replicas: 2, profile.kvBlocks: 500 }
grid:
  router: [round-robin, least-kv]
  scheduler: [vllm-fcfs, sjf]
  rateScale: [1, 4, 8]
`,
  );
  await runSweep(spec, { out: dir, engine: 'cpu', threads: 2, progress: 'none' });
  reportPath = await writeReport(dir);
});

describe('sweep report', () => {
  it('is one self-contained HTML file with inline SVG plots and no network references', () => {
    const html = readFileSync(reportPath, 'utf8');
    expect(html.match(/<svg[^>]*class="marks"/g)).toHaveLength(5);
    for (const id of ['latency-vs-load', 'pareto', 'throughput-vs-load', 'preemption', 'kv-utilisation', 'table']) expect(html).toContain(`id="${id}"`);
    expect(html).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  it('adds the prefix-cache hit-rate plot and column when a configuration cached prefixes, each cache setting its own policy', async () => {
    const spec = join(work, 'sessions.yaml');
    writeFileSync(spec, `name: cached\ntraces:\n  s: { path: "sessions:rate=1,duration=60,seed=2" }\nfixed: { replicas: 2, router: prefix-affinity }\ngrid:\n  prefixCache: ["off", "on"]\n  rateScale: [1, 2]\n`);
    const out = join(work, 'cached');
    await runSweep(spec, { out, engine: 'cpu', threads: 1, progress: 'none' });
    const html = readFileSync(await writeReport(out), 'utf8');
    expect(html).toContain('id="prefix-cache"');
    expect(html.match(/<svg[^>]*class="marks"/g)).toHaveLength(6);
    expect(html).toContain('>prefix_cache_hit_rate_tokens</th>');
    expect(html).toContain('prefix-affinity + vllm-fcfs + prefix cache');
    expect(html).toMatch(/<td>policies \(router \+ scheduler\)<\/td><td>2<\/td>/);
  });

  // Skipped only outside CI, where a developer may lack Chromium; .ci/run installs it, so CI never skips.
  it.skipIf(!existsSync(CHROMIUM) && !process.env.CI)('loads in headless Chromium without console errors, shows the plots, sorts the table', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const errors: string[] = [];
      const requests: string[] = [];
      page.on('console', (m) => {
        if (m.type() === 'error') errors.push(m.text());
      });
      page.on('pageerror', (e) => errors.push(String(e)));
      page.on('request', (r) => {
        if (!r.url().startsWith('file:')) requests.push(r.url());
      });
      await page.goto(pathToFileURL(reportPath).href, { waitUntil: 'load' });
      expect(await page.title()).toContain('report-test');
      const svgs = page.locator('figure svg.marks');
      expect(await svgs.count()).toBe(5);
      for (let i = 0; i < 5; i++) {
        const box = await svgs.nth(i).boundingBox();
        expect(box!.width).toBeGreaterThan(200);
        expect(box!.height).toBeGreaterThan(150);
        // the plots have drawn marks: lines or symbols
        expect(await svgs.nth(i).locator('path').count()).toBeGreaterThan(5);
      }
      expect(await page.locator('#results tbody tr').count()).toBe(12);
      const firstCol = () => page.$$eval('#results tbody tr td:first-child', (tds) => tds.map((td) => Number(td.textContent)));
      expect(await firstCol()).toEqual([...Array(12).keys()]);
      const header = page.locator('#results th', { hasText: 'ttft_ms_p99' });
      const col = Number(await header.getAttribute('data-col'));
      await header.click();
      const values = await page.$$eval(`#results tbody tr`, (trs, c) => trs.map((tr) => Number((tr as HTMLTableRowElement).cells[c as number].getAttribute('data-v'))), col);
      expect(values).toEqual([...values].sort((a, b) => a - b));
      await header.click();
      const desc = await page.$$eval(`#results tbody tr`, (trs, c) => trs.map((tr) => Number((tr as HTMLTableRowElement).cells[c as number].getAttribute('data-v'))), col);
      expect(desc).toEqual([...values].sort((a, b) => b - a));
      mkdirSync(join(root, 'test-output'), { recursive: true });
      await page.screenshot({ path: join(root, 'test-output', 'sweep-report.png'), fullPage: true });
      expect(errors).toEqual([]);
      expect(requests).toEqual([]);
    } finally {
      await browser.close();
    }
  });
});
