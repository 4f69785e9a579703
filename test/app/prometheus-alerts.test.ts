/**
 * The monitoring docs stay true to /metrics: every metric docs/prometheus-alerts.yml uses is one
 * the app exposes, with the labels its rules match and group on; and docs/operations.md's table
 * lists exactly the metrics /metrics exposes (per-portal ones on). Read from a running app with a
 * portal installed and a dead job, so labelled series have samples to check against.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startTestApp, waitFor, type TestApp } from './helpers.js';

const ALERTS = readFileSync(new URL('../../docs/prometheus-alerts.yml', import.meta.url), 'utf8');
const OPERATIONS = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');

/** Metric families in a /metrics text (`# TYPE` lines), with the label names seen in their samples. */
function families(text: string): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  for (const match of text.matchAll(/^# TYPE (\S+) \S+$/gm)) found.set(match[1]!, new Set());
  for (const match of text.matchAll(/^([a-z0-9_]+)\{([^}]*)\} \S+$/gm)) {
    // histogram samples belong to their family
    const family = found.has(match[1]!) ? match[1]! : match[1]!.replace(/_(bucket|sum|count)$/, '');
    for (const label of match[2]!.matchAll(/([a-z_]+)="/g)) found.get(family)?.add(label[1]!);
  }
  return found;
}

/** The `expr:` of each rule. */
function expressions(yaml: string): string[] {
  return [...yaml.matchAll(/^\s*expr:\s*(.+)$/gm)].map((match) => match[1]!.trim());
}

describe('docs/prometheus-alerts.yml and docs/operations.md name what /metrics exposes', () => {
  let t: TestApp;
  let exposed: Map<string, Set<string>>;

  before(async () => {
    t = await startTestApp((app) => app.job('doomed', async (ctx) => void (await ctx.b24.call('no.such.method'))), { config: { metrics: { perPortal: true } } });
    const { memberId } = await t.install();
    const job = await t.app.enqueue(memberId, 'doomed', {});
    await waitFor(async () => (await t.store.one<{ state: string }>('SELECT state FROM b24kit_jobs WHERE id = ?', [job.id]))?.state === 'dead', 15_000, 'the job to die');
    exposed = families(await (await fetch(`${t.url}/metrics`)).text());
  });
  after(() => t?.close());

  it('the alerts file has the rules docs/operations.md promises', () => {
    const names = [...ALERTS.matchAll(/^\s*- alert: (\S+)$/gm)].map((match) => match[1]);
    assert.deepEqual(names, ['B24kitRefreshTokenAging', 'B24kitPortalNeedsReauth', 'B24kitDeadLettersRising', 'B24kitPortal503', 'B24kitTokenRefreshFailing']);
    for (const name of names) assert.ok(OPERATIONS.includes(`\`${name}\``), `${name} is described in docs/operations.md`);
    assert.equal(expressions(ALERTS).length, names.length, 'one single-line expr per rule');
  });

  it('every metric in the rules is exposed, with the labels the rules match and group on', () => {
    for (const expr of expressions(ALERTS)) {
      const metrics = [...expr.matchAll(/\b(b24kit_[a-z0-9_]+)(\{[^}]*\})?/g)];
      assert.ok(metrics.length > 0, expr);
      for (const [, metric, selector] of metrics) {
        // a counter's family is named without _total in # TYPE
        const family = exposed.has(metric!) ? metric! : metric!.replace(/_total$/, '');
        assert.ok(exposed.has(family), `${metric} (in ${expr}) is not in /metrics`);
        const labels = [...(selector ?? '').matchAll(/([a-z_]+)\s*(?:=|!=|=~|!~)/g)].map((match) => match[1]!);
        const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((match) => match[1]!.split(',').map((label) => label.trim()));
        for (const label of [...labels, ...grouped]) assert.ok(exposed.get(family)!.has(label), `${metric} has no label ${label} (in ${expr})`);
      }
    }
  });

  it("docs/operations.md's metrics table lists exactly the b24kit metrics /metrics exposes", () => {
    const table = OPERATIONS.slice(OPERATIONS.indexOf('| metric | kind |'), OPERATIONS.indexOf('**Why dead letters'));
    const documented = [...table.matchAll(/^\| `(b24kit_[a-z0-9_]+)`/gm)].map((match) => match[1]!);
    // prom-client names a counter's family without _total in # TYPE
    const normalize = (name: string): string => name.replace(/_total$/, '');
    const exposedNames = [...exposed.keys()].filter((name) => name.startsWith('b24kit_'));
    assert.deepEqual([...new Set(documented.map(normalize))].sort(), exposedNames.map(normalize).sort());
  });
});
