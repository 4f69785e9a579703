/**
 * The docs stand alone: what the repository cites exists in it.
 *
 * - No citation of files a user of the package never sees: `../shared`, `bitrix24-protocol.md`,
 *   `ARCHITECTURE.md`, `BENCHMARKS.md`, or the old form `protocol §N`.
 * - Every protocol section cited exists in docs/protocol.md: `docs/protocol.md §5.1` (code comments,
 *   and docs quoting that form), a link `[§5.1](protocol.md#51-request-rate-the-leaky-bucket)`
 *   (docs; its anchor must be a heading and its § number that heading's), and `§5.1` inside
 *   docs/protocol.md itself. A `§` outside those forms is an error: it cites nothing checkable.
 * - Every relative markdown link (inline or a reference definition) of README.md, docs/, bench/ and
 *   examples/ names a file that exists and, for a .md file, a heading anchor that exists.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const self = fileURLToPath(import.meta.url);
const PROTOCOL = path.join(repoRoot, 'docs', 'protocol.md');

const SCANNED = ['README.md', 'docs', 'src', 'bench', 'examples', 'test'];
const TEXT_FILE = /\.(ts|mts|js|mjs|md|sql|json)$/;

function filesUnder(relative: string): string[] {
  const full = path.join(repoRoot, relative);
  if (!existsSync(full)) return [];
  if (statSync(full).isFile()) return [full];
  return readdirSync(full, { withFileTypes: true }).flatMap((entry) => {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) return [];
    const child = path.join(relative, entry.name);
    return entry.isDirectory() ? filesUnder(child) : TEXT_FILE.test(entry.name) ? [path.join(repoRoot, child)] : [];
  });
}

const files = SCANNED.flatMap(filesUnder).filter((file) => file !== self);
const markdownFiles = files.filter((file) => file.endsWith('.md') && !file.startsWith(path.join(repoRoot, 'test') + path.sep));
const rel = (file: string): string => path.relative(repoRoot, file);

/** GitHub's heading anchor: lower case, punctuation dropped, spaces → hyphens, repeats numbered. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutFences(markdown)) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!heading) continue;
    const text = heading[1]!.replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text.toLowerCase().replace(/[^\p{L}\p{M}\p{N}\p{Pc}\- ]/gu, '').replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    anchors.add(count === 0 ? base : `${base}-${count}`);
  }
  return anchors;
}

/** The lines of a markdown text outside fenced code blocks (their text is not a link). */
function withoutFences(markdown: string): string[] {
  let fenced = false;
  return markdown.split('\n').map((line) => {
    if (/^\s*(```|~~~)/.test(line)) {
      fenced = !fenced;
      return '';
    }
    return fenced ? '' : line;
  });
}

const protocolText = readFileSync(PROTOCOL, 'utf8');
const protocolAnchors = anchorsOf(protocolText);
/** Section number → its heading's anchor: `5` → `5-limits`, `5.1` → `51-request-rate-the-leaky-bucket`. */
const sections = new Map<string, string>();
for (const line of withoutFences(protocolText)) {
  const heading = /^#{2,3}\s+(\d+(?:\.\d+)?)\.?\s/.exec(line);
  if (heading) sections.set(heading[1]!, [...anchorsOf(line)][0]!);
}

/** `docs/protocol.md §2.4, §2.5`, `docs/protocol.md §1.3–§1.6`: the form code comments use. */
const CODE_CITATION = /docs\/protocol\.md((?:\s*(?:,|–|-|and)?\s*§\d+(?:\.\d+)?)+)/g;
/** `[§5.1](protocol.md#51-…)`, `[docs/protocol.md §5.1](docs/protocol.md#51-…)`. */
const LINK_CITATION = /\[([^\]§]*§[^\]]*)\]\((?:\.{1,2}\/)*(?:docs\/)?protocol\.md(#[^)\s]*)?\)/g;
const NUMBERS = /§(\d+(?:\.\d+)?)/g;

describe('docs citations', () => {
  it('docs/protocol.md has numbered sections', () => {
    for (const expected of ['0', '1', '1.5', '3.6', '5.1', '8.3', '9']) assert.ok(sections.has(expected), `§${expected}`);
  });

  it('nothing cites files outside the repository, or the old "protocol §N" form', () => {
    const forbidden: [RegExp, string][] = [
      [/\.\.\/shared\b/, '../shared'],
      [/bitrix24-protocol\.md/, 'bitrix24-protocol.md'],
      [/ARCHITECTURE\.md/, 'ARCHITECTURE.md'],
      [/BENCHMARKS\.md/, 'BENCHMARKS.md'],
      [/(?<![\w/.])protocol §/, 'protocol § (cite docs/protocol.md §N)'],
    ];
    const found: string[] = [];
    for (const file of files) {
      readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
        for (const [pattern, name] of forbidden) if (pattern.test(line)) found.push(`${rel(file)}:${index + 1}: ${name}`);
      });
    }
    assert.deepEqual(found, []);
  });

  it('every cited protocol section exists, and every § is such a citation', () => {
    const problems: string[] = [];
    for (const file of files) {
      const isMarkdown = file.endsWith('.md');
      readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
        const where = `${rel(file)}:${index + 1}`;
        let rest = line.replace(CODE_CITATION, (_match, list: string) => {
          for (const [, number] of list.matchAll(NUMBERS)) if (!sections.has(number!)) problems.push(`${where}: §${number} is not a section of docs/protocol.md`);
          return '';
        });
        if (isMarkdown) {
          rest = rest.replace(LINK_CITATION, (_match, text: string, anchor: string | undefined) => {
            const numbers = [...text.matchAll(NUMBERS)].map((m) => m[1]!);
            if (!anchor) problems.push(`${where}: a § link without a section anchor`);
            else if (!protocolAnchors.has(anchor.slice(1))) problems.push(`${where}: ${anchor} is not a heading of docs/protocol.md`);
            else if (numbers.length !== 1 || sections.get(numbers[0]!) !== anchor.slice(1)) problems.push(`${where}: the text ${text} does not match ${anchor}`);
            return '';
          });
        }
        if (file === PROTOCOL) {
          for (const [, number] of rest.matchAll(NUMBERS)) if (!sections.has(number!)) problems.push(`${where}: §${number} is not a section`);
          return;
        }
        if (/§/.test(rest)) problems.push(`${where}: a § that is not a docs/protocol.md citation: ${rest.trim()}`);
      });
    }
    assert.deepEqual(problems, []);
  });

  it('relative markdown links name files and headings that exist', () => {
    const broken: string[] = [];
    const anchorCache = new Map<string, Set<string>>();
    const anchorsOfFile = (file: string): Set<string> => {
      let anchors = anchorCache.get(file);
      if (!anchors) anchorCache.set(file, (anchors = anchorsOf(readFileSync(file, 'utf8'))));
      return anchors;
    };
    for (const file of markdownFiles) {
      withoutFences(readFileSync(file, 'utf8')).forEach((rawLine, index) => {
        const line = rawLine.replace(/`[^`]*`/g, '');
        const targets = [
          ...[...line.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]!),
          ...[...line.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/g)].map((m) => m[1]!),
        ];
        for (const target of targets) {
          if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
          const [filePart, anchor] = target.split('#') as [string, string | undefined];
          const resolved = filePart === '' ? file : path.resolve(path.dirname(file), decodeURI(filePart.split('?')[0]!));
          const where = `${rel(file)}:${index + 1}: ${target}`;
          if (!existsSync(resolved)) broken.push(`${where} (no such file)`);
          else if (anchor !== undefined && resolved.endsWith('.md') && !anchorsOfFile(resolved).has(anchor)) broken.push(`${where} (no such heading)`);
        }
      });
    }
    assert.deepEqual(broken, []);
  });
});
