// The paced engine's own CPU beyond the unpaced one's, taken out of the calibrated costs
// (scripts/calibrate/paced-own.ts).
import type { PaceCosts } from '../lab/server/pace';
import { lessPacedExcess } from '../scripts/calibrate/paced-own';

const costs: PaceCosts = {
  coldUs: 7000,
  coldRequestUs: 9000,
  acceptUs: 13,
  firstRequestUs: 41,
  registerUs: 24,
  closeUs: 0,
  requestUs: 78,
  requestAfterUs: 40,
  eventUs: 8,
  keyErrorUs: 106,
  skipUs: 3,
  gcEvery: 11,
  gcYoungUs: 59,
  gcMiddleUs: 610,
  gcFullUs: 10134,
};

test('the keep-alive excess comes out of every request, the churn excess beyond it out of every connection', () => {
  // Unpaced own 12 and 36 (a connection 24); paced 37.6 and 66.2 (a connection 28.6):
  // 25.6 → 26 from the request (78 → 52), 4.6 → 5 from the connection (first request 41 → 36).
  const c = lessPacedExcess(costs, { keepAlive: 12, churn: 36 }, { keepAlive: 37.6, churn: 66.2 });
  expect([c.request, c.connection]).toEqual([26, 5]);
  expect(c.costs).toEqual({ ...costs, requestUs: 52, firstRequestUs: 36 });
});

test('a cost too small for the excess gives what it has and the next one the rest; none goes below 0', () => {
  const c = lessPacedExcess(
    { ...costs, requestUs: 10, firstRequestUs: 3 },
    { keepAlive: 12, churn: 36 },
    { keepAlive: 42, churn: 76 },
  );
  // Request 30: requestUs 10 → 0, requestAfterUs 40 → 20. Connection 34 − 24 = 10: 3 → 0, 13 → 6.
  expect(c.costs).toMatchObject({
    requestUs: 0,
    requestAfterUs: 20,
    firstRequestUs: 0,
    acceptUs: 6,
  });
});

test('a paced engine cheaper than the unpaced one gives the difference back; asyncio has no first-request cost', () => {
  const asyncio = { ...costs, acceptUs: 32, firstRequestUs: 0, requestUs: 107 };
  const c = lessPacedExcess(asyncio, { keepAlive: 12, churn: 36 }, { keepAlive: 9, churn: 30 });
  // Request −3: 107 → 110. Connection (30 − 9) − 24 = −3: acceptUs 32 → 35.
  expect(c.costs).toMatchObject({ requestUs: 110, acceptUs: 35, firstRequestUs: 0 });
});
