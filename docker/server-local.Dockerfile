# The server image on the no-registry path (the default). The lab builds it itself through the
# engine's API (lab/runtime/server-image.ts), from a context it assembles in-process:
#   deps/  build/Release/forklab.node and the production node_modules of the checkout,
#   app/   package.json, tsconfig.json, bin/, lab/, scenarios/, servers/,
# on BASE_IMAGE, the imported Node.js base (forklab-node-base:<hash>: the host's node binary and
# the shared libraries it and the addon need, see lab/runtime/node-base-image.ts).
# Runs read-only: the lab mounts a tmpfs at /tmp, where tsx keeps its transpile cache.
#
# The classic builder caches a step when its parent and inputs are unchanged: the metadata comes
# first and the dependencies before the code, so an edit to lab/ only redoes the last COPY.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
ENV NODE_ENV=production HOME=/tmp
LABEL forklab.managed=true forklab.image-source=local
WORKDIR /app
USER 10001:10001
ENTRYPOINT ["node", "/app/bin/forklab.js", "serve"]
COPY deps/ /app/
COPY app/ /app/
