/**
 * deploy/Dockerfile and deploy/compose.yaml are not built here (no registry), so what can drift is
 * checked without Docker: every `b24kit` command and option they run exists in the CLI (its own
 * --help), every b24kit variable they and docs/deploy.md set is one the configuration reads, the
 * files the image copies exist, and the health endpoints they probe are served.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadConfig } from '../src/config/index.js';
import { buildWebServer } from '../src/server/app.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string): string => readFileSync(path.join(repoRoot, file), 'utf8');
const execFileAsync = promisify(execFile);

const dockerfile = read('deploy/Dockerfile');
const compose = read('deploy/compose.yaml');
const guide = read('docs/deploy.md');

/** `["node", "bin/b24kit.js", "web", "--x"]` → `['web', '--x']`, from exec-form arrays. */
function b24kitCommands(text: string): string[][] {
  return [...text.matchAll(/\[\s*"node",\s*"bin\/b24kit\.js"((?:,\s*"[^"]*")*)\s*\]/g)].map((match) =>
    [...match[1]!.matchAll(/"([^"]*)"/g)].map((part) => part[1]!),
  );
}

/** Variables b24kit reads that a deployment sets (POSTGRES_* are the database image's). */
function b24kitVariables(text: string): string[] {
  return [...new Set([...text.matchAll(/\b(B24(?:KIT)?_(?!ERR_)[A-Z0-9_]+|DATABASE_URL|LOG_LEVEL|PORT|HOST)\b/g)].map((match) => match[1]!))];
}

describe('deploy files', () => {
  it('run only b24kit commands and options that exist', async () => {
    const commands = [...b24kitCommands(dockerfile), ...b24kitCommands(compose)];
    assert.deepEqual(commands.map((args) => args[0]).sort(), ['start', 'web', 'worker']);
    for (const args of commands) {
      const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', args[0]!, '--help'], { cwd: repoRoot });
      assert.match(stdout, new RegExp(`^Usage: b24kit ${args[0]} `, 'm'));
      for (const option of args.slice(1).filter((arg) => arg.startsWith('--'))) assert.ok(stdout.includes(option), `${args.join(' ')}: ${option}`);
    }
  });

  it('set only variables the configuration reads, with values it accepts', () => {
    const source = read('src/config/index.ts');
    const named = [...b24kitVariables(dockerfile), ...b24kitVariables(compose), ...b24kitVariables(guide)];
    assert.ok(named.includes('B24KIT_SECRET_KEY') && named.includes('DATABASE_URL'));
    for (const name of new Set(named)) assert.match(source, new RegExp(`^\\s+${name}: `, 'm'), `${name} is not read by src/config/index.ts`);
    // the literal values the files set pass validation
    const literal = (text: string, name: string): string | undefined => new RegExp(`${name}[=:]\\s*"?([A-Za-z0-9]+)"?`).exec(text)?.[1];
    const env: Record<string, string> = {};
    for (const name of ['B24KIT_LOG_FORMAT', 'PORT', 'LOG_LEVEL']) {
      const value = literal(dockerfile, name) ?? literal(compose, name);
      if (value !== undefined) env[name] = value;
    }
    assert.deepEqual(Object.keys(env).sort(), ['B24KIT_LOG_FORMAT', 'LOG_LEVEL', 'PORT']);
    const config = loadConfig(env);
    assert.deepEqual([config.logFormat, config.port, config.logLevel], ['json', 3000, 'info']);
  });

  it('copy files that exist and probe endpoints that are served', async () => {
    for (const [, source] of dockerfile.matchAll(/^COPY (?!--from)(.+) \.\/\S*$/gm)) {
      for (const file of source!.split(/\s+/)) assert.ok(existsSync(path.join(repoRoot, file)), `COPY ${file}`);
    }
    for (const [, source] of dockerfile.matchAll(/^COPY --from=build \/app\/(\S+) /gm)) {
      // what the build stage holds: the sources, or what npm ci makes of them (dist/, node_modules/)
      assert.ok(existsSync(path.join(repoRoot, source!)) || ['dist', 'node_modules'].includes(source!), source);
    }
    assert.ok(existsSync(path.join(repoRoot, 'deploy/Dockerfile.dockerignore')));
    const server = buildWebServer({ ready: async () => true });
    for (const url of ['/health', '/ready']) {
      assert.ok(dockerfile.includes(url) || guide.includes(url), url);
      assert.equal((await server.inject({ method: 'GET', url })).statusCode, 200, url);
      assert.equal((await server.inject({ method: 'HEAD', url })).statusCode, 200, `HEAD ${url}`);
    }
    await server.close();
  });
});
