// The load drivers a scenario or the command line can choose (load.driver, --driver).
//  - node: keep-alive through autocannon (what most users know), churn through churn-client.ts;
//    both in one JavaScript thread, which caps them at about a third of wrk's rate on a small
//    machine (npm run bench:driver).
//  - native: the addon's epoll client (native/load_driver.h) in threads of its own, as wrk is.
export const LOAD_DRIVERS = ['node', 'native'] as const;
export type LoadDriverName = (typeof LOAD_DRIVERS)[number];

/** The default when a scenario names none. */
export const DEFAULT_LOAD_DRIVER: LoadDriverName = 'node';
