// Where the calibration places a connection's cost (scripts/calibrate.ts): in proportion to where
// Tornado 4.5.3 spends a churned connection's life beyond a keep-alive request.

/** Medians in µs of one busy Tornado 4.5.3 worker's churned connections (TORNADO45_PHASES). */
export interface ConnectionPhases {
  accept_to_read: number;
  read_to_close: number;
  close_to_next: number;
}

/** Where a connection's cost goes: the three places the engine can burn it, in µs. */
export interface ConnectionSplit {
  acceptUs: number;
  firstRequestUs: number;
  closeUs: number;
  /** What each place stands for in Tornado 4.5.3's phases (µs), for the method text. */
  beforeRead: number;
  pastRequest: number;
  pastAfter: number;
}

/**
 * Splits a connection's cost (`accept`: churn − keep-alive CPU per request) over the places
 * Tornado 4.5.3 spends it, in proportion to what its phases spend there beyond a keep-alive
 * request: before the first read (accept → first read), before the close (first read → close, less
 * a keep-alive request's read → send, `s.before`) and after it (close → next, less a keep-alive request's
 * send → next read, `s.after`). The engine burns them before the first read (acceptUs), with the first
 * request before its send (firstRequestUs; Tornado's 13 µs from the send to the close, timed once on 2026-11-27,
 * go there too) and after the close (closeUs).
 */
export function connectionSplit(
  accept: number,
  p: ConnectionPhases,
  s: { before: number; after: number },
): ConnectionSplit {
  const beforeRead = Math.max(0, p.accept_to_read);
  const pastRequest = Math.max(0, p.read_to_close - s.before);
  const pastAfter = Math.max(0, p.close_to_next - s.after);
  const all = beforeRead + pastRequest + pastAfter;
  if (all <= 0)
    return { acceptUs: accept, firstRequestUs: 0, closeUs: 0, beforeRead, pastRequest, pastAfter };
  const acceptUs = Math.round((accept * beforeRead) / all);
  const closeUs = Math.round((accept * pastAfter) / all);
  return {
    acceptUs,
    firstRequestUs: accept - acceptUs - closeUs,
    closeUs,
    beforeRead,
    pastRequest,
    pastAfter,
  };
}
