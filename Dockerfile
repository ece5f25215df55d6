# The registry as a container image: `docker build -t oci-test-registry .`,
# then `docker run -p 5000:5000 oci-test-registry [--flag …]`.
# Flags after the image name go to the registry; so do OCI_TEST_REGISTRY_*
# variables and PORT (see README "As a container").

# Any image with node (20 or later), npm and /bin/sh, and a user named
# "node", as the official Node images have.
ARG NODE_IMAGE=node:20-bookworm-slim

# Build: the dev dependencies (typescript, and esbuild through tsx) compile
# src/ into dist/ and bundle the CLI with its V8 code cache, made here by the
# same node that runs it. --ignore-scripts: no dependency's install script
# runs, and our own "prepare" is run as the explicit build step below.
FROM ${NODE_IMAGE} AS build
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
RUN npm run build

# Runtime: node and the compiled registry; no node_modules (the registry
# has no runtime dependencies), no npm step, no shell needed.
FROM ${NODE_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="oci-test-registry" \
      org.opencontainers.image.description="An in-memory OCI / Docker registry for tests and CI jobs" \
      org.opencontainers.image.source="https://github.com/oci-test-registry/oci-test-registry" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
WORKDIR /app
COPY --from=build /build/dist ./dist
COPY package.json ./
COPY bin ./bin
# Inside the container the registry listens on every interface (it prints a
# warning saying so: anyone who can reach the port can push); PORT is read
# by both the registry and the health check.
ENV OCI_TEST_REGISTRY_HOST=0.0.0.0 \
    PORT=5000
EXPOSE 5000
USER node
# Exec form, node as PID 1: the CLI handles SIGTERM and SIGINT itself and
# exits 0 within a moment, so no --init is needed.
ENTRYPOINT ["node", "/app/bin/oci-test-registry.cjs"]
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "/app/dist/cli/health-check.js"]
