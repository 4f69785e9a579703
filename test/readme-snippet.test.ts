/**
 * The README's app snippet is examples/quick-start-app.ts (which `npm run typecheck` compiles):
 * this keeps the two from drifting apart.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { codeLines as body } from './helpers/snippet.js';


it('the README app snippet is the example that typecheck compiles', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const snippet = /```ts\n(\/\/ app\.ts[\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(snippet, 'README has the app snippet');
  const example = readFileSync(new URL('../examples/quick-start-app.ts', import.meta.url), 'utf8');
  assert.deepEqual(body(snippet), body(example));
});
