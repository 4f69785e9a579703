/**
 * docs/emulator.md's "Method index" is the list of what the emulator serves: one row per registered
 * method, with the scope the registry checks and a public source. The test reads the registry the
 * emulator itself is built from (`registerAllMethods`), so a method added without a row, a row left
 * behind by a removed method, or a scope changed on one side only fails here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MethodRegistry } from '../../src/emulator/methods/registry.js';
import { registerAllMethods } from '../../src/emulator/methods/all.js';

const DOC = fileURLToPath(new URL('../../docs/emulator.md', import.meta.url));

interface IndexRow {
  line: number;
  method: string;
  /** One scope, or several for a method that accepts any one of them (`user`, `user_basic`, `user_brief`). */
  scope: string[];
  cells: string[];
}

/** The rows of the "## Method index" table, up to the next `## ` heading. */
function readIndex(markdown: string): { rows: IndexRow[]; definitions: Map<string, string> } {
  const lines = markdown.split('\n');
  const start = lines.findIndex((line) => line.trim() === '## Method index');
  assert.ok(start >= 0, 'docs/emulator.md has a "## Method index" section');
  const after = lines.slice(start + 1).findIndex((line) => line.startsWith('## '));
  const section = after < 0 ? lines.slice(start + 1) : lines.slice(start + 1, start + 1 + after);
  const rows: IndexRow[] = [];
  section.forEach((text, offset) => {
    if (!text.startsWith('| `')) return;
    const cells = text.slice(1, text.endsWith('|') ? -1 : undefined).split(' | ').map((cell) => cell.trim());
    const method = /^`([A-Za-z0-9_.]+)`$/.exec(cells[0]!)?.[1];
    const scope = /^`[a-z_]+`(, `[a-z_]+`)*$/.test(cells[1] ?? '') ? [...cells[1]!.matchAll(/`([a-z_]+)`/g)].map((match) => match[1]!) : undefined;
    assert.ok(method && scope, `docs/emulator.md:${start + 2 + offset}: a row is | \`method\` | \`scope\`[, \`scope\`…] | …: ${text}`);
    rows.push({ line: start + 2 + offset, method, scope, cells });
  });
  // reference definitions anywhere in the file: `[src-x]: https://…`
  const definitions = new Map<string, string>();
  for (const match of markdown.matchAll(/^\[([^\]]+)\]:\s*(\S+)/gm)) definitions.set(match[1]!, match[2]!);
  return { rows, definitions };
}

const registry = new MethodRegistry();
registerAllMethods(registry);
const { rows, definitions } = readIndex(readFileSync(DOC, 'utf8'));
// method names are case-insensitive on the portal; the registry keys them in lower case
const byName = new Map(rows.map((row) => [row.method.toLowerCase(), row]));

describe('docs/emulator.md method index', () => {
  it('has a row for every registered method', () => {
    const missing = registry.names().filter((name) => !byName.has(name));
    assert.deepEqual(missing, [], 'registered but not in the Method index');
  });

  it('names only registered methods, each once', () => {
    const unknown = rows.filter((row) => registry.get(row.method) === undefined).map((row) => `${row.line}: ${row.method}`);
    assert.deepEqual(unknown, [], 'in the Method index but not registered');
    const seen = new Set<string>();
    const repeated = rows.filter((row) => seen.size === seen.add(row.method.toLowerCase()).size).map((row) => `${row.line}: ${row.method}`);
    assert.deepEqual(repeated, [], 'listed twice');
  });

  it("gives each method the registry's scope", () => {
    const registered = (method: string) => {
      const scope = registry.get(method)!.scope;
      return (typeof scope === 'string' ? [scope] : [...scope]).join(', ');
    };
    const wrong = rows
      .filter((row) => registry.get(row.method) !== undefined && registered(row.method) !== row.scope.join(', '))
      .map((row) => `${row.line}: ${row.method} says ${row.scope.join(', ')}, the registry ${registered(row.method)}`);
    assert.deepEqual(wrong, []);
  });

  it('gives each row a description, a public source and an UNCONFIRMED cell', () => {
    const problems: string[] = [];
    for (const row of rows) {
      const [, , does, source, unconfirmed] = row.cells;
      if (row.cells.length !== 5) problems.push(`${row.line}: ${row.cells.length} cells, not 5`);
      if (!does) problems.push(`${row.line}: no description`);
      if (!unconfirmed) problems.push(`${row.line}: empty UNCONFIRMED cell (write —)`);
      // a source is an apidocs page (through a reference definition) or a docs/protocol.md section
      const pages = [...(source ?? '').matchAll(/\]\[([^\]]+)\]/g)].map((match) => definitions.get(match[1]!));
      const sections = /\]\(protocol\.md#[^)]+\)/.test(source ?? '');
      if (pages.some((url) => url === undefined || !/^https:\/\/apidocs\.bitrix24\.com\/.+\.html$/.test(url))) problems.push(`${row.line}: a source link without an apidocs.bitrix24.com definition`);
      if (pages.length === 0 && !sections) problems.push(`${row.line}: no public source`);
    }
    assert.deepEqual(problems, []);
  });
});
