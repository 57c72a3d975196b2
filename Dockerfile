# syntax=docker/dockerfile:1
# The operator's image: compiled once with the dev dependencies, shipped with production
# dependencies only, run as the unprivileged `node` user (uid 1000) on a read-only root.
#
#   docker build -t <registry>/trustbundle-operator:0.1.0 .
#
# NODE_VERSION follows the `node` dev dependency in package.json (the version tests run on).
ARG NODE_VERSION=24.21.0

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: no install script runs (the `node` dev dependency would download a second Node).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY operator/src operator/src
RUN npx tsc -p tsconfig.build.json

FROM node:${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:${NODE_VERSION}-bookworm-slim
LABEL org.opencontainers.image.title="trustbundle-operator" \
      org.opencontainers.image.description="Rolls out mutual-TLS trust (CA bundles) for Open Banking platforms" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
# V8 grows its heap to several times what is live before it collects: small young-generation
# semispaces and a 96 MB old space keep one bundle in 1,000 namespaces near 110 MB instead of
# ~160 MB, and 1,000 bundles of 10 distinct CAs near 180 MB instead of ~220 MB, for up to 20 % more
# CPU in a cold start (docs/performance.md). Those 1,000 bundles hold ~60 MB of live heap: above
# ~1,300 bundles of distinct CAs raise --max-old-space-size through the chart's extraEnv
# (alert TrustBundleOperatorHeapNearLimit).
ENV NODE_OPTIONS="--max-semi-space-size=2 --max-old-space-size=96"
WORKDIR /app
COPY --from=deps /app/node_modules node_modules
COPY --from=build /src/operator/dist operator/dist
COPY package.json ./
# Numeric, so the kubelet can check runAsNonRoot.
USER 1000:1000
EXPOSE 8080
ENTRYPOINT ["node", "--enable-source-maps", "operator/dist/main.js"]
