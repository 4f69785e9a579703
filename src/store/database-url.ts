/** Where the store lives, read from a `DATABASE_URL`-style string: the dialect follows the URL. */

/** The embedded store used when no URL is given. */
export const DEFAULT_DATABASE_URL = './data/b24kit.sqlite';

export type DatabaseLocation =
  | { kind: 'sqlite'; /** A file path (relative to the working directory) or `:memory:`. */ path: string }
  | { kind: 'postgres'; url: string };

/** `postgres://…` or `postgresql://…` is PostgreSQL; anything else is a SQLite file path (a `file:` prefix is dropped). */
export function databaseLocation(url: string): DatabaseLocation {
  return /^postgres(ql)?:\/\//i.test(url) ? { kind: 'postgres', url } : { kind: 'sqlite', path: url.replace(/^file:/, '') };
}
