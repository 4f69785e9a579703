/**
 * The progress line long CLI runs draw (`b24kit doctor` over each portal's bindings, `b24kit sync
 * contacts` by phase): on a terminal, one line on stderr redrawn in place, cut to the terminal's
 * width, and cleared at the end so that what follows starts on a clean line; on a pipe or a file
 * (CI, `2> log`), nothing at all — no carriage returns or escape codes in a log.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startProgress } from '../../src/cli/progress.js';

const CLEAR_LINE = '\r\u001b[2K';

function fakeStream(isTTY: boolean, columns = 80): { stream: NodeJS.WriteStream; written: string[] } {
  const written: string[] = [];
  const stream = { isTTY, columns, write: (text: string) => void written.push(text) } as unknown as NodeJS.WriteStream;
  return { stream, written };
}

describe('CLI progress line', () => {
  it('on a terminal: redrawn in place with done/total and the next step, then cleared', () => {
    const { stream, written } = fakeStream(true);
    const progress = startProgress('checking bindings', 3, stream);
    progress.update(0, 'a.bitrix24.com');
    progress.update(1, 'b.bitrix24.com');
    progress.end();
    assert.deepEqual(written, [`${CLEAR_LINE}checking bindings 0/3 a.bitrix24.com`, `${CLEAR_LINE}checking bindings 1/3 b.bitrix24.com`, CLEAR_LINE]);
  });

  it("cut to the terminal's width, so a long portal name never wraps onto a second line", () => {
    const { stream, written } = fakeStream(true, 30);
    const progress = startProgress('checking bindings', 20, stream);
    progress.update(7, 'a-very-long-portal-name.bitrix24.com');
    const line = written[0]!.slice(CLEAR_LINE.length);
    assert.equal(line.length, 29, 'one column short of the width: the cursor stays on the line');
    assert.ok(line.startsWith('checking bindings 7/20 a-ver') && line.endsWith('…'), line);
  });

  it('on a pipe or a file: nothing written, not even on end()', () => {
    const { stream, written } = fakeStream(false);
    const progress = startProgress('checking bindings', 50, stream);
    progress.update(1, 'a.bitrix24.com');
    progress.end();
    assert.deepEqual(written, []);
  });

  it('a run of one step draws nothing, and end() without an update clears nothing', () => {
    const one = fakeStream(true);
    const single = startProgress('checking bindings', 1, one.stream);
    single.update(0, 'a.bitrix24.com');
    single.end();
    assert.deepEqual(one.written, []);
    const idle = fakeStream(true);
    startProgress('checking bindings', 5, idle.stream).end();
    assert.deepEqual(idle.written, []);
  });
});
