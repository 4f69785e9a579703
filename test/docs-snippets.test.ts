/**
 * The docs' code runs, or at least compiles: every ```ts / ```typescript block of README.md and
 * docs/*.md is typechecked against the source; in every ```sh / ```bash block the `b24kit` commands
 * are checked against the CLI's own --help, and the block runs when it can run offline and fast.
 *
 * TypeScript blocks. Each block is written under node_modules/.cache/ (snippetDir) and ONE
 * TypeScript program checks them all, with the repo's tsconfig.json and the package's subpaths
 * (`b24kit`, `b24kit/store`, …) mapped to src/, so no build is needed and dist/ is never read.
 * - A block is a module of its own (`export {}` is appended): its top-level names are its own.
 * - A line `// name.ts` (first column) starts a file of that name; blocks of one page share a
 *   folder, so a later block can import `./name.js` from an earlier one (docs/testing.md).
 * - `…` stands for elided code and is read as a comment.
 * - Names a fragment uses without declaring them (`memberId`, `app`, `kit`, `store`, …) are typed
 *   by PRELUDE below, so the calls on them are still checked; any other undeclared name fails.
 * - `<!-- snippet: fragment (why) -->` on the line before the fence skips a block that cannot be
 *   a program (a list of signatures, one property of an object). Keep such marks rare.
 *
 * Shell blocks: every `b24kit` command in them must name existing subcommands and options (as the
 * CLI's `--help` lists them); then the block runs with `sh -e` in the repo root, `b24kit` /
 * `npx b24kit` being the CLI from source. Only `b24kit … --help` lines may run: anything else
 * could install, start or delete, so such a block needs a mark.
 * - `<!-- snippet: usage -->`: the block shows commands with placeholders (`<memberId>`): checked,
 *   not run.
 * - `<!-- snippet: skip (why) -->`: not run (it installs packages, or starts a server).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import ts from 'typescript';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
/**
 * Inside the repo, so that `b24kit`'s dependencies resolve from its node_modules, but where neither
 * `npm run lint` nor `npm run typecheck` looks, and git ignores it.
 */
const snippetDir = path.join(repoRoot, 'node_modules', '.cache', 'b24kit-docs-snippets');
const execFileAsync = promisify(execFile);

/** The CLI from source, as test/cli.test.ts runs it: no dist/ needed. */
const CLI = [process.execPath, '--import', 'tsx', 'src/cli/run.ts'];

/**
 * What the docs' fragments use without declaring it: the names an app author has at hand where the
 * fragment would sit (an app, a plugin's kit, a portal's member_id, …). Typed, so calls are checked.
 */
const PRELUDE = `
import type { createHmac as CreateHmac } from 'node:crypto';
import type { AppKit, B24App, B24Client, EventHandler, RouteHandler, auth as Auth, createApp as CreateApp } from 'b24kit';
import type { Store } from 'b24kit/store';
import type { RateLimiter, PortalTokenService, createPortalTokenProvider as CreateTokenProvider } from 'b24kit/rest';
import type { Emulator } from 'b24kit/emulator';
import type { startTestApp as StartTestApp } from 'b24kit/testing';
import type { reconcileBindings as ReconcileBindings } from '#src/events/bindings.js';
import type { drainOfflineEvents as DrainOfflineEvents, offlineEventDedupeKey as OfflineEventDedupeKey, OfflineEventRecord } from '#src/events/offline-drain.js';
import type { B24kitConfig } from '#src/config/index.js';
import type { B24Plugin } from '#src/app/plugin.js';

declare global {
  // the public API, for fragments that leave out their imports
  const createApp: typeof CreateApp;
  const auth: typeof Auth;
  const startTestApp: typeof StartTestApp;
  const createPortalTokenProvider: typeof CreateTokenProvider;
  const createHmac: typeof CreateHmac;
  // lower layers docs/events.md describes
  const reconcileBindings: typeof ReconcileBindings;
  const drainOfflineEvents: typeof DrainOfflineEvents;
  const offlineEventDedupeKey: typeof OfflineEventDedupeKey;
  // what the surrounding code would hold
  const app: B24App;
  const kit: AppKit;
  const memberId: string;
  const store: Store;
  const b24: B24Client;
  const client: B24Client;
  const config: B24kitConfig & { appUrl: string };
  const emulator: { url: string; emulator: Emulator };
  const secretKey: Buffer;
  const clientId: string;
  const clientSecret: string;
  const accessToken: string;
  const clientEndpoint: string;
  const fresh: string;
  const url: string;
  const secret: string;
  const form: Record<string, unknown>;
  const tokens: PortalTokenService;
  const limiter: RateLimiter;
  const authConnector: string | undefined;
  /** the app's own idempotent record of processed events (docs/events.md) */
  const inbox: { record(key: string, event: OfflineEventRecord): Promise<void> };
  const handler: EventHandler<'ONCRMDEALADD'> & RouteHandler;
  const formLeads: B24Plugin<{ titlePrefix: string }>;
  function sweep(store: Store, nowMs: number): Promise<void>;
  function createEmptyDatabase(): Promise<string>;
  function openMyStore(name: string, options?: { migrate?: boolean }): Promise<Store>;
  function dropDatabase(name: string): Promise<void>;
}
export {};
`;

type Mark = { kind: 'fragment' | 'skip' | 'usage'; reason: string } | undefined;

interface Block {
  page: string;
  /** 1-based line of the opening fence. */
  line: number;
  lang: 'ts' | 'sh';
  code: string;
  mark: Mark;
}

function pages(): string[] {
  // docs/ and its folders (docs/integrations/…)
  const docs = (readdirSync(path.join(repoRoot, 'docs'), { recursive: true }) as string[])
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name.split(path.sep).join('/')}`)
    .sort();
  return ['README.md', ...docs];
}

const FENCE = /^```(ts|typescript|sh|bash)\s*$/;
const MARK = /^<!--\s*snippet:\s*(fragment|skip|usage)\b\s*(.*?)\s*-->$/;

function blocksOf(page: string): Block[] {
  const lines = readFileSync(path.join(repoRoot, page), 'utf8').split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const fence = FENCE.exec(lines[i]!);
    if (!fence) continue;
    let end = i + 1;
    while (end < lines.length && !lines[end]!.startsWith('```')) end++;
    const mark = MARK.exec(lines[i - 1] ?? '');
    blocks.push({
      page,
      line: i + 1,
      lang: fence[1] === 'ts' || fence[1] === 'typescript' ? 'ts' : 'sh',
      code: lines.slice(i + 1, end).join('\n'),
      mark: mark ? { kind: mark[1] as 'fragment' | 'skip' | 'usage', reason: mark[2]! } : undefined,
    });
    i = end;
  }
  return blocks;
}

const allBlocks = pages().flatMap(blocksOf);
const where = (block: Block): string => `${block.page}:${block.line}`;
// a crash is reported by the shell test, not as an unhandled rejection before it runs
const shellFailures = checkShellBlocks().catch((error: unknown) => [`the shell check failed: ${String(error)}`]);

describe('docs snippets', () => {
  it('finds the blocks, and every mark fits its block and gives a reason', () => {
    assert.ok(allBlocks.filter((b) => b.lang === 'ts').length >= 20, 'the TypeScript blocks are found');
    assert.ok(allBlocks.filter((b) => b.lang === 'sh').length >= 4, 'the shell blocks are found');
    for (const block of allBlocks) {
      if (!block.mark) continue;
      const allowed = block.lang === 'ts' ? ['fragment'] : ['skip', 'usage'];
      assert.ok(allowed.includes(block.mark.kind), `${where(block)}: \`${block.mark.kind}\` does not apply to a ${block.lang} block`);
      if (block.mark.kind !== 'usage') assert.match(block.mark.reason, /\w{3}/, `${where(block)}: say why the block is left out`);
    }
    const skipped = allBlocks.filter((b) => b.mark?.kind === 'fragment' || b.mark?.kind === 'skip');
    assert.ok(skipped.length <= 6, `keep fragment/skip marks rare: ${skipped.map(where).join(', ')}`);
  });

  it('every TypeScript block compiles against the source', { timeout: 120_000 }, () => {
    rmSync(snippetDir, { recursive: true, force: true });
    mkdirSync(snippetDir, { recursive: true });
    writeFileSync(path.join(snippetDir, 'prelude.d.ts'), PRELUDE);

    /** Snippet file → the page line its first line came from. */
    const origin = new Map<string, { page: string; firstLine: number }>();
    for (const block of allBlocks) {
      if (block.lang !== 'ts' || block.mark?.kind === 'fragment') continue;
      const folder = path.join(snippetDir, path.basename(block.page, '.md'));
      mkdirSync(folder, { recursive: true });
      const lines = elisionsAsComments(block.code).split('\n');
      let name = `line-${block.line}.ts`;
      let start = 0;
      const flush = (end: number): void => {
        if (lines.slice(start, end).every((line) => line.trim() === '')) return;
        const file = path.join(folder, name);
        assert.ok(!origin.has(file), `${where(block)}: a second ${block.page} file named ${name}`);
        writeFileSync(file, `${lines.slice(start, end).join('\n')}\nexport {};\n`);
        origin.set(file, { page: block.page, firstLine: block.line + 1 + start });
      };
      lines.forEach((line, index) => {
        const named = /^\/\/ ([\w.-]+\.ts)\b/.exec(line);
        if (!named) return;
        flush(index);
        name = named[1]!;
        start = index;
      });
      flush(lines.length);
    }

    const options = compilerOptions();
    const program = ts.createProgram([path.join(snippetDir, 'prelude.d.ts'), ...origin.keys()], options);
    const read = program.getSourceFiles().map((file) => path.relative(repoRoot, file.fileName));
    assert.ok(read.includes('src/index.ts'), '`b24kit` resolves to src/index.ts');
    assert.deepEqual(read.filter((file) => file.startsWith('dist/')), [], 'nothing is checked against dist/');

    const problems = ts.getPreEmitDiagnostics(program).map((diagnostic) => {
      const text = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n');
      if (!diagnostic.file || diagnostic.start === undefined) return text;
      const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start);
      const from = origin.get(path.resolve(diagnostic.file.fileName));
      const at = from ? `${from.page}:${from.firstLine + line}` : `${path.relative(repoRoot, diagnostic.file.fileName)}:${line + 1}`;
      return `${at}: TS${diagnostic.code} ${text}`;
    });
    assert.deepEqual(problems, []);
  });

  it('every shell block runs, or names only real b24kit commands and options', { timeout: 120_000 }, async () => {
    assert.deepEqual(await shellFailures, []);
  });
});

/**
 * The shell blocks' problems. Started when the file loads: the CLI runs in child processes while
 * the TypeScript check keeps this one busy.
 */
async function checkShellBlocks(): Promise<string[]> {
  const checked = allBlocks.filter((block) => block.lang === 'sh' && block.mark?.kind !== 'skip');
  const helps = await helpTexts(checked.flatMap((block) => block.code.split('\n').flatMap(b24kitInvocations)));
  const failures: string[] = [];
  for (const block of checked) {
    // a command the CLI does not have still exits 0 with --help (the root's help): check the names first
    for (const [offset, line] of block.code.split('\n').entries()) {
      for (const invocation of b24kitInvocations(line)) {
        const problem = checkUsage(invocation, helps);
        if (problem) failures.push(`${block.page}:${block.line + 1 + offset}: ${problem}`);
      }
    }
    if (block.mark?.kind === 'usage') continue;
    // only the CLI runs, and only to answer (--help): anything else could install, start or delete
    const commands = block.code.split('\n').filter((line) => line.trim() !== '' && !line.trim().startsWith('#'));
    const unsafe = commands.filter((line) => !/^(npx )?b24kit [^|;&<>`$]*--help\s*(#.*)?$/.test(line.trim()));
    if (unsafe.length > 0) {
      failures.push(`${where(block)}: runs only \`b24kit … --help\` lines; mark the block \`usage\` or \`skip\` (${unsafe[0]!.trim()})`);
      continue;
    }
    const problem = await runShell(`b24kit() { ${CLI.map((part) => `'${part}'`).join(' ')} "$@"; }\n${block.code.replaceAll('npx b24kit', 'b24kit')}\n`);
    if (problem) failures.push(`${where(block)}: ${problem}`);
  }
  return failures;
}

/** Runs a script with `sh -e` in the repo root; a timeout kills its whole process group. */
async function runShell(script: string, timeoutMs = 60_000): Promise<string | undefined> {
  const child = spawn('sh', ['-e', '-c', script], { cwd: repoRoot, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => process.kill(-child.pid!, 'SIGKILL'), timeoutMs);
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  if (code === 0) return undefined;
  return `${signal ? `killed (${signal}) after ${timeoutMs} ms` : `exit ${code}`}: ${stderr.trim().split('\n')[0] ?? ''}`;
}

/**
 * `…` (elided code) becomes a comment, where it stands in code: inside a comment or a string it
 * stays as it is (`/* app.on(…) *\/` must not get a nested comment).
 */
function elisionsAsComments(code: string): string {
  let out = '';
  let state: 'code' | 'line' | 'block' | "'" | '"' | '`' = 'code';
  for (let i = 0; i < code.length; i++) {
    const char = code[i]!;
    const pair = code.slice(i, i + 2);
    if (state === 'code') {
      if (char === '…') {
        out += '/* … */';
        continue;
      }
      if (pair === '//') state = 'line';
      else if (pair === '/*') state = 'block';
      else if (char === "'" || char === '"' || char === '`') state = char;
    } else if (state === 'line' && char === '\n') state = 'code';
    else if (state === 'block' && pair === '*/') {
      out += pair;
      i++;
      state = 'code';
      continue;
    } else if (state === char && code[i - 1] !== '\\') state = 'code';
    out += char;
  }
  return out;
}

/** The repo's compiler options, checking only, with the package's subpaths mapped to src/. */
function compilerOptions(): ts.CompilerOptions {
  const file = ts.readConfigFile(path.join(repoRoot, 'tsconfig.json'), ts.sys.readFile);
  const parsed = ts.parseJsonConfigFileContent(file.config, ts.sys, repoRoot);
  const manifest = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { name: string; exports: Record<string, { types?: string }> };
  const paths: Record<string, string[]> = {};
  for (const [subpath, target] of Object.entries(manifest.exports)) {
    if (!target.types) continue;
    // ./dist/store/public.d.ts → ./src/store/public.ts
    paths[path.posix.join(manifest.name, subpath)] = [target.types.replace(/^\.\/dist\//, './src/').replace(/\.d\.ts$/, '.ts')];
  }
  // the prelude reaches modules below the public surface (docs/events.md describes them) as #src/…
  paths['#src/*'] = ['./src/*'];
  return { ...parsed.options, noEmit: true, declaration: false, sourceMap: false, baseUrl: repoRoot, paths };
}

/** The `b24kit …` commands of one shell line (after a pipe too), comments dropped, tokens unbracketed. */
function b24kitInvocations(line: string): string[][] {
  const code = line.replace(/\s#.*$/, '');
  return code
    .split(/[|;&]+/)
    .map((part) => part.trim().replace(/^npx\s+/, ''))
    .filter((part) => /^b24kit(\s|$)/.test(part))
    .map((part) => part.split(/\s+/).slice(1).map((token) => token.replace(/^\[|\]$/g, '')));
}

/**
 * The CLI's --help for every command path the invocations may name (their leading words), from ONE
 * child process: the CLI from source, its exit and output captured per path.
 */
async function helpTexts(invocations: string[][]): Promise<Map<string, string>> {
  const commands = new Map<string, string[]>([['', []]]);
  for (const tokens of invocations) {
    const words = tokens.slice(0, 3);
    const end = words.findIndex((word) => !/^[a-z][\w-]*$/.test(word));
    const lead = end < 0 ? words : words.slice(0, end);
    lead.forEach((_, i) => commands.set(lead.slice(0, i + 1).join(' '), lead.slice(0, i + 1)));
  }
  const script = `
    const { main } = await import('./src/cli/main.ts');
    const out = {};
    for (const command of JSON.parse(process.argv[1])) {
      let text = '';
      const { write } = process.stdout, { exit } = process, { error } = console;
      process.stdout.write = (chunk) => ((text += chunk), true);
      process.exit = () => { throw new Error('help shown'); };
      console.error = () => {};
      try { await main(['node', 'b24kit', ...command, '--help']); }
      finally { process.stdout.write = write; process.exit = exit; console.error = error; }
      out[command.join(' ')] = text;
    }
    process.exitCode = 0;
    process.stdout.write(JSON.stringify(out));`;
  const { stdout } = await execFileAsync(CLI[0]!, [CLI[1]!, CLI[2]!, '--input-type=module', '-e', script, JSON.stringify([...commands.values()])], {
    cwd: repoRoot,
    timeout: 60_000,
  });
  return new Map(Object.entries(JSON.parse(stdout) as Record<string, string>));
}

/** Walks the subcommands through their --help and checks every `--option` is one of the last one's. */
function checkUsage(tokens: string[], helps: Map<string, string>): string | undefined {
  const command: string[] = [];
  const help = (path: string[]): string => helps.get(path.join(' ')) ?? '';
  let text = help(command);
  assert.match(text, /^Usage: b24kit /m, 'the CLI answers --help');
  for (const token of tokens) {
    if (token.startsWith('-')) break;
    if (!subcommands(text).includes(token)) break;
    command.push(token);
    text = help(command);
  }
  if (command.length === 0) return `\`b24kit ${tokens.join(' ')}\`: no such command`;
  const known = options(text);
  const unknown = tokens.filter((token) => token.startsWith('--') && !known.includes(token.split('=')[0]!));
  if (unknown.length > 0) return `\`b24kit ${command.join(' ')}\` has no ${unknown.join(', ')}`;
  const asksHelp = tokens.includes('--help') || tokens.includes('-h');
  if (subcommands(text).length > 0 && !asksHelp) return `\`b24kit ${command.join(' ')}\` needs a subcommand`;
  return undefined;
}

function section(helpText: string, title: string): string[] {
  const lines = helpText.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start < 0) return [];
  const body: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith(' ') && line.trim() !== '') break;
    body.push(line);
  }
  return body;
}

function subcommands(helpText: string): string[] {
  return section(helpText, 'Commands').flatMap((line) => {
    const name = /^ {2}([a-z][\w-]*)/.exec(line)?.[1];
    return name && name !== 'help' ? [name] : [];
  });
}

function options(helpText: string): string[] {
  // option lines only (`  -h, --help  …`, `  --app <module>  …`), not the descriptions that mention others
  return section(helpText, 'Options').flatMap((line) => {
    const name = /^ {2}(?:-\w, )?(--[a-z][\w-]*)/.exec(line)?.[1];
    return name ? [name] : [];
  });
}
