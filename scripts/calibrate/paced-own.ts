// What the paced engine spends itself, beyond the unpaced engine's own: taken out of the costs.
//
// The calibration's costs are Tornado's CPU per request less the engine's own (its system calls
// and parsing, which Tornado's figure holds too), and that own figure comes from the unpaced
// engine. Paced, the engine answers fewer requests per pass of its loop, so it makes more system
// calls per request, and it ran dearer than the Tornado it models (README, "Calibration"). The
// calibration measures the paced engine's own (its CPU less its burns) with the costs it found
// and takes the excess out of them.
import type { PaceCosts } from '../../lab/server/pace';

/** CPU µs per request the engine spends itself (its CPU less its burns), medians per load. */
export interface Own {
  keepAlive: number;
  churn: number;
}

export interface Corrected {
  costs: PaceCosts;
  /** µs taken out of every request (requestUs, then requestAfterUs); negative: added. */
  request: number;
  /** µs taken out of every connection (firstRequestUs, then acceptUs); negative: added. */
  connection: number;
}

/**
 * `costs` less the paced engine's excess over the unpaced one's own: per request (keep-alive) from
 * the request's cost, and per connection (churn less keep-alive) from the connection's.
 */
export function lessPacedExcess(costs: PaceCosts, unpaced: Own, paced: Own): Corrected {
  const request = Math.round(paced.keepAlive - unpaced.keepAlive);
  const connection = Math.round(
    paced.churn - paced.keepAlive - (unpaced.churn - unpaced.keepAlive),
  );
  const c = { ...costs };
  // Takes `us` out of the named costs in turn (never below 0), or adds it to the first.
  const take = (us: number, keys: (keyof PaceCosts)[]): void => {
    if (us < 0) {
      c[keys[0]!] -= us;
      return;
    }
    let left = us;
    for (const k of keys) {
      const t = Math.min(left, c[k]);
      c[k] -= t;
      left -= t;
    }
  };
  take(request, ['requestUs', 'requestAfterUs']);
  take(connection, c.firstRequestUs > 0 ? ['firstRequestUs', 'acceptUs'] : ['acceptUs']);
  return { costs: c, request, connection };
}
