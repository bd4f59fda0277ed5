// Images whose tags are content hashes pile up with every change (forklab-server, forklab-nginx):
// the stale ones are untagged, the one in use and the recent ones (another lab may be about to use
// them) are kept. Two tiny FROM-scratch images of a repository of the test's own.
import { connectDocker, probeDockerSync } from '../lab/runtime/docker-engine';
import { followProgress, imageExists } from '../lab/runtime/docker-progress';
import { LABEL_MANAGED } from '../lab/runtime/labels';
import { removeStaleImages } from '../lab/runtime/server-image';
import { packEntries } from '../lab/runtime/tar-entries';

jest.setTimeout(120_000);
const engine = probeDockerSync(3000);
const maybe = engine.ok || process.env.CI === 'true' ? test : test.skip;

const docker = connectDocker();
const repo = `forklab-test-stale-${process.pid}`;
const tags = [`${repo}:a`, `${repo}:b`];

afterAll(async () => {
  for (const t of tags)
    await docker
      .getImage(t)
      .remove()
      .catch(() => undefined);
});

maybe('stale tags of the repository go, the kept one and recent ones stay', async () => {
  for (const [i, t] of tags.entries()) {
    const context = packEntries([
      { type: 'file', name: 'Dockerfile', content: 'FROM scratch\nCOPY x /x\n' },
      { type: 'file', name: 'x', content: `image ${i}\n` },
    ]);
    await followProgress(
      docker,
      await docker.buildImage(context, { t, labels: { [LABEL_MANAGED]: 'true' }, version: '1' }),
    );
  }
  // Both were made just now: with the default age (an hour) nothing is stale.
  expect(await removeStaleImages(docker, repo, tags[1]!)).toEqual([]);
  expect(await imageExists(docker, tags[0]!)).toBe(true);
  // Older than 0 ms: every tag but the kept one goes; other repositories are not touched.
  await new Promise((r) => setTimeout(r, 1100)); // Created has a one-second resolution
  expect(await removeStaleImages(docker, repo, tags[1]!, 0)).toEqual([tags[0]]);
  expect(await imageExists(docker, tags[0]!)).toBe(false);
  expect(await imageExists(docker, tags[1]!)).toBe(true);
});
