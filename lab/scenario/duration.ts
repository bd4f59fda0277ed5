// Durations on the command line: `500ms`, `30s`, `2m`, or a bare number of seconds.

/** Seconds in `text` (`500ms`, `30s`, `1.5m`, `20`), or null when it is not a duration. */
export function parseDuration(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m)?\s*$/i.exec(text);
  if (!m) return null;
  const n = Number(m[1]);
  switch ((m[2] ?? 's').toLowerCase()) {
    case 'ms':
      return n / 1000;
    case 'm':
      return n * 60;
    default:
      return n;
  }
}

/** How a duration is written, for messages. */
export const DURATION_FORMAT = 'a duration such as 500ms, 30s or 2m (a bare number is seconds)';
