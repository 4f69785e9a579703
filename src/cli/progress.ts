/**
 * Progress of a long CLI run (one step per portal, say), as one line redrawn on stderr — only when
 * stderr is a terminal: stdout stays the command's output (`--json` included), and a pipe, a file
 * or CI gets no carriage returns. The line is cleared when the run ends.
 */
export interface Progress {
  /** `done` of `total` steps finished; `label` says which one is next. */
  update(done: number, label?: string): void;
  /** Clears the line. */
  end(): void;
}

const NO_PROGRESS: Progress = { update: () => undefined, end: () => undefined };

export function startProgress(title: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total <= 1) return NO_PROGRESS;
  let drawn = false;
  return {
    update(done, label) {
      const width = Math.max(20, (stream.columns || 80) - 1);
      const text = `${title} ${done}/${total}${label ? ` ${label}` : ''}`;
      stream.write(`\r\u001b[2K${text.length > width ? `${text.slice(0, width - 1)}…` : text}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\u001b[2K');
      drawn = false;
    },
  };
}
