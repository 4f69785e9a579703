/**
 * `npm run bench`: runs every benchmark (or those named on the command line, e.g.
 * `npm run bench -- rest`) and writes bench/README.md with the machine, the date and each
 * benchmark's section. Benchmarks measure ratios against the portal's limits (docs/protocol.md §5)
 * and a peer in one run; timing goals live here, never in tests.
 */
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

export interface BenchSection {
  /** Heading of the section in bench/README.md. */
  title: string;
  /** Markdown body: the model, the table of results, the ratios. */
  markdown: string;
}

export type Benchmark = () => Promise<BenchSection>;

/** Each is bench/NAME.ts exporting `run: Benchmark`. */
const BENCHMARKS = ['rest', 'rest-lists', 'ingest', 'route-auth', 'orders', 'contacts', 'scale'];
/** Run only when named (`npm run chaos` = `npm run bench -- chaos`): minutes long, a dozen processes, PostgreSQL. */
const ON_REQUEST = ['chaos'];

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((name) => !name.startsWith('-'));
  const names = wanted.length ? wanted : BENCHMARKS;
  const sections: BenchSection[] = [];
  for (const name of names) {
    if (!BENCHMARKS.includes(name) && !ON_REQUEST.includes(name)) throw new Error(`unknown benchmark ${name}; known: ${[...BENCHMARKS, ...ON_REQUEST].join(', ')}`);
    const benchFile = fileURLToPath(new URL(`./${name}.ts`, import.meta.url));
    if (!existsSync(benchFile)) {
      console.log(`skipping ${name}: bench/${name}.ts does not exist yet`);
      continue;
    }
    console.log(`running ${name} …`);
    const { run } = (await import(new URL(`./${name}.ts`, import.meta.url).href)) as { run: Benchmark };
    const section = await run();
    console.log(section.markdown);
    sections.push(section);
  }
  writeReadme(sections);
}

function writeReadme(sections: BenchSection[]): void {
  const path = fileURLToPath(new URL('./README.md', import.meta.url));
  const previous = existsSync(path) ? readFileSync(path, 'utf8') : '';
  const kept = new Map<string, string>();
  // keep sections of benchmarks not run this time
  for (const match of previous.matchAll(/^## (.+)\n([\s\S]*?)(?=^## |(?![\s\S]))/gm)) {
    if (match[1] && match[1] !== 'Machine') kept.set(match[1], match[2] ?? '');
  }
  for (const section of sections) kept.set(section.title, `${section.markdown.trim()}\n\n`);
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  const header = [
    '# Benchmarks',
    '',
    'Written by `npm run bench` (see bench/run.ts; the limits measured against: docs/protocol.md §5). Ratios measured in one run',
    'on one machine are what count; absolute times drift on a shared 2-core machine.',
    '',
    '## Machine',
    '',
    `- date: ${new Date().toISOString()}`,
    `- ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB memory`,
    `- Node ${process.version} on ${os.platform()} ${os.release()}`,
    '',
  ].join('\n');
  const body = [...kept.entries()].map(([title, markdown]) => `## ${title}\n${markdown}`).join('');
  writeFileSync(path, `${header}\n${body}`);
  console.log(`wrote ${path}`);
}

await main();
