/**
 * Encryption of secrets at rest (tokens, application_token) and constant-time comparison.
 *
 * Key format (`B24KIT_SECRET_KEY`): exactly 32 random bytes, written as 64 hex characters or as
 * base64 / base64url (44 characters with padding). Generate one with
 * `node -e "console.log(require('node:crypto').randomBytes(32).toString('base64'))"`.
 *
 * Sealed value format: `v1.` + base64url(iv[12] ‖ tag[16] ‖ ciphertext), AES-256-GCM with a
 * random IV per value. The caller binds each value to its place (e.g. `portals:<member_id>:access_token`)
 * as additional authenticated data, so a sealed value copied into another row or column does not open.
 */
import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { B24Error } from '../errors.js';
import type { Logger } from '../log/logger.js';

const VERSION_PREFIX = 'v1.';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

/** Seals and opens secrets with one key. Holds the key privately; never logs or prints it. */
export interface SecretBox {
  /** Encrypts `plaintext`; `context` is authenticated but not stored (bind the value to its row and column). */
  seal(plaintext: string, context: string): string;
  /** Decrypts a value from `seal`; throws B24_ERR_DECRYPT on a wrong key, a wrong context or tampering. */
  open(sealed: string, context: string): string;
}

/**
 * Parses `B24KIT_SECRET_KEY`: 64 hex characters or base64/base64url of exactly 32 bytes.
 * Throws B24_ERR_SECRET_KEY; the message never contains the value.
 */
export function parseSecretKey(text: string): Buffer {
  const value = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(value)) return Buffer.from(value, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(value)) {
    const key = Buffer.from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (key.length === KEY_BYTES) return key;
  }
  throw new B24Error('B24_ERR_SECRET_KEY', 'B24KIT_SECRET_KEY must be 32 bytes written as 64 hex characters or as base64 (44 characters)');
}

export function createSecretBox(key: Buffer): SecretBox {
  if (key.length !== KEY_BYTES) throw new B24Error('B24_ERR_SECRET_KEY', `The encryption key must be ${KEY_BYTES} bytes`);
  const secret = Buffer.from(key); // a private copy: the caller's buffer may be wiped or reused
  return {
    seal(plaintext, context) {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', secret, iv);
      cipher.setAAD(Buffer.from(context, 'utf8'));
      const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      return VERSION_PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
    },
    open(sealed, context) {
      // the message names the context (table:member:column), never the value or the key
      const fail = (cause?: unknown): B24Error =>
        new B24Error('B24_ERR_DECRYPT', `A stored secret (${context}) could not be decrypted: wrong B24KIT_SECRET_KEY or a damaged value`, cause === undefined ? {} : { cause });
      if (!sealed.startsWith(VERSION_PREFIX)) throw fail();
      const raw = Buffer.from(sealed.slice(VERSION_PREFIX.length), 'base64url');
      if (raw.length < IV_BYTES + TAG_BYTES) throw fail();
      try {
        const decipher = createDecipheriv('aes-256-gcm', secret, raw.subarray(0, IV_BYTES));
        decipher.setAAD(Buffer.from(context, 'utf8'));
        decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        // the OpenSSL error says nothing useful and must not leak partial plaintext
        throw fail();
      }
    },
  };
}

export interface ResolveSecretKeyOptions {
  /** The parsed `B24KIT_SECRET_KEY`, if set. */
  key: Buffer | undefined;
  /** Where the demo key file lives. @defaultValue './data' */
  dataDir?: string;
  logger?: Logger;
}

/** Name of the generated key file inside the data directory (demo mode only). */
export const DEMO_KEY_FILE = 'b24kit.secret-key';

/**
 * The key to encrypt with: `B24KIT_SECRET_KEY` when set; otherwise (demo mode) the key in
 * `{dataDir}/b24kit.secret-key`, generated on first use with file mode 0600. Logs a warning in
 * demo mode: losing that file makes every stored token unreadable, and several hosts sharing
 * one PostgreSQL need the same key, so production sets B24KIT_SECRET_KEY.
 */
export function resolveSecretKey(options: ResolveSecretKeyOptions): Buffer {
  if (options.key) return options.key;
  const dataDir = options.dataDir ?? './data';
  const file = path.resolve(dataDir, DEMO_KEY_FILE);
  mkdirSync(path.dirname(file), { recursive: true });
  let generated = false;
  try {
    // 'wx': two processes starting at once must not both write a key; the loser reads the winner's
    writeFileSync(file, randomBytes(KEY_BYTES).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
    generated = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw new B24Error('B24_ERR_SECRET_KEY', `Cannot create the demo key file ${file}`, { cause: error });
  }
  options.logger?.warn(
    { keyFile: file, generated },
    'B24KIT_SECRET_KEY is not set: tokens are encrypted with a generated demo key kept next to the data. Set B24KIT_SECRET_KEY in production.',
  );
  return parseKeyFile(file);
}

function parseKeyFile(file: string): Buffer {
  let text = readFileSync(file, 'utf8');
  // a concurrent creator may not have finished writing: the key is 44 characters plus a newline
  for (let i = 0; i < 50 && text.trim().length < 44; i++) {
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    text = readFileSync(file, 'utf8');
  }
  try {
    return parseSecretKey(text);
  } catch (error) {
    throw new B24Error('B24_ERR_SECRET_KEY', `The demo key file ${file} is damaged`, { cause: error });
  }
}

/**
 * Compares two secrets in constant time. Both sides are hashed first so that inputs of different
 * lengths take the same path (timingSafeEqual demands equal lengths, and a length check would leak).
 */
export function safeEqual(a: string, b: string): boolean {
  const left = createHash('sha256').update(a, 'utf8').digest();
  const right = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(left, right);
}
