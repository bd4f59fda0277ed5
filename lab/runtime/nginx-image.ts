// The nginx image `forklab-nginx:<hash12>`: Debian's nginx-light (the Debian root of
// debian-image.ts) run by its adapter, servers/nginx/run.js, which is JavaScript. The adapter and
// the Node.js that runs it come from the server image (server-image.ts: the lab's code with its
// production node_modules under /app, and `node`) in a two-stage build, so nothing is assembled
// twice and no registry is needed:
//
//   FROM forklab-server:<hash> AS lab          FROM forklab-debian:<hash>
//                                              COPY --from=lab node, /app
//
// Node.js is the host's own binary (or the official image's); it needs only libc, libstdc++ and
// libgcc, which the Debian root has. A RUN step runs it once during the build, so a binary that
// cannot run on the root fails the build, with the loader's message, and never a run.
// The tag hashes the Dockerfile, which names both images by their content-hash tags.
import type Docker from 'dockerode';
import { hashEntries } from './content-hash';
import { ensureDebianImage, type DebianImageOptions } from './debian-image';
import { followProgress, imageExists } from './docker-progress';
import { LABEL_MANAGED } from './labels';
import type { BuiltImage } from './node-base-image';
import { packEntries, type TarEntry } from './tar-entries';

export const NGINX_REPOSITORY = 'forklab-nginx';
/** Where the lab's code lives in forklab-nginx images. */
export const NGINX_APP_DIR = '/opt/forklab/app';
/** `node` in the server image: a symlink to the host's binary (local base) or the binary itself. */
const SERVER_IMAGE_NODE = '/usr/local/bin/node';

/** The build context of the nginx image: a Dockerfile only (both stages are images). */
export function nginxContextEntries(serverTag: string, debianTag: string): TarEntry[] {
  const dockerfile = [
    `FROM ${serverTag} AS lab`,
    `FROM ${debianTag}`,
    `COPY --from=lab ${SERVER_IMAGE_NODE} /usr/local/bin/node`,
    `COPY --from=lab /app ${NGINX_APP_DIR}`,
    // Node.js runs on this root, or the build stops here.
    'RUN ["/usr/local/bin/node", "-e", "process.exit(0)"]',
    'ENV NODE_ENV=production HOME=/tmp',
    `LABEL ${LABEL_MANAGED}=true`,
    `WORKDIR ${NGINX_APP_DIR}`,
    `ENTRYPOINT ["/usr/local/bin/node", "${NGINX_APP_DIR}/servers/nginx/run.js"]`,
    '',
  ].join('\n');
  return [{ type: 'file', name: 'Dockerfile', content: dockerfile }];
}

/** The nginx image on `serverTag` (the engine's image, built by the caller), built when missing. */
export async function ensureNginxImage(
  docker: Docker,
  serverTag: string,
  opts: DebianImageOptions = {},
): Promise<BuiltImage & { base: BuiltImage }> {
  const t0 = performance.now();
  const base = await ensureDebianImage(docker, opts);
  const entries = nginxContextEntries(serverTag, base.tag);
  const hash = await hashEntries(entries, `nginx/${serverTag}/${base.tag}`);
  const tag = `${NGINX_REPOSITORY}:${hash.slice(0, 12)}`;
  if (await imageExists(docker, tag))
    return { tag, built: false, ms: performance.now() - t0, base };
  const answer = await docker.buildImage(packEntries(entries), {
    t: tag,
    rm: true,
    forcerm: true,
    // The RUN step needs no network (and a machine's docker0 bridge may be missing).
    networkmode: 'none',
    // The classic builder (no BuildKit here); it runs multi-stage builds and COPY --from.
    version: '1',
  });
  try {
    await followProgress(docker, answer, (e) => {
      if (e.stream && opts.onProgress) opts.onProgress(e.stream.trimEnd());
    });
  } catch (err) {
    throw new Error(
      `forklab: building ${tag} (nginx on ${base.tag}) failed: ${(err as Error).message}`,
    );
  }
  if (!(await imageExists(docker, tag)))
    throw new Error(`forklab: the build finished but ${tag} is missing`);
  return { tag, built: true, ms: performance.now() - t0, base };
}
