// One lab process = one session. Every container and process this process starts carries the
// session id, so a later session can tell its own servers from the leftovers of a crashed one.
import { randomBytes } from 'node:crypto';

/** This process's session id, e.g. `m3k9x2-4f1a9c`. */
export const SESSION_ID = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** A fresh run id (lower-case, safe in container names and label values). */
export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`;
}
