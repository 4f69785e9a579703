/**
 * How a process's log lines look. `pretty` (pino-pretty: time, level and message on one line) is
 * for a person at a terminal; `json` (one pino object per line) is for everything else — a file, a
 * pipe, a log shipper, `docker logs`. B24KIT_LOG_FORMAT overrides the guess either way.
 */
import { pino, type DestinationStream } from 'pino';
import pinoPretty from 'pino-pretty';

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The configured format, else pretty when the stream the lines go to is a terminal, else JSON. */
export function resolveLogFormat(configured: LogFormat | undefined, stream: { isTTY?: boolean }): LogFormat {
  return configured ?? (stream.isTTY === true ? 'pretty' : 'json');
}

/** Colours only on a terminal, and never when NO_COLOR is set (https://no-color.org). */
export function useColor(stream: { isTTY?: boolean }, env: Record<string, string | undefined> = process.env): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '';
}

/** Fields a pretty line leaves out: the process's own, and `banner`, which that line's message says in words. */
const PRETTY_IGNORE = 'pid,hostname,name,banner';

/**
 * The destination of a process's logger (createServerLogger's `destination`) on stdout or stderr,
 * in the format resolveLogFormat picks. Redaction runs in the logger, before either format. Pretty
 * lines are written in this process and synchronously (no worker thread): a line logged just
 * before `process.exit` is not lost.
 */
export function logDestination(configured: LogFormat | undefined, stream: NodeJS.WriteStream & { fd: 1 | 2 }): DestinationStream {
  if (resolveLogFormat(configured, stream) === 'json') return pino.destination({ fd: stream.fd, sync: true });
  return pinoPretty({
    destination: stream.fd,
    sync: true,
    colorize: useColor(stream),
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: PRETTY_IGNORE,
    // the rest of an entry's object on the same line, as JSON: one entry, one line
    singleLine: true,
  });
}
