# syntax=docker/dockerfile:1
# Node 24, the LTS line supported longest (until April 2028; Node 22 until April 2027, Node 20 ended April 2026),
# and the Lambda runtime of deploy/sam (nodejs24.x). package.json `engines` stays >=20.18.1: the tests run on Node 20.
# Build stage: compile TypeScript with the dev dependencies.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: production dependencies and the built files only, as the unprivileged `node` user.
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000 \
    HOST=0.0.0.0
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --chown=node:node samples ./samples
USER node
EXPOSE 3000
# Plain HTTP, or HTTPS when the receiver serves TLS itself (its own certificate, so not verified on loopback).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "const t=!!process.env.TLS_CERT_FILE;require(t?'node:https':'node:http').get({host:'127.0.0.1',port:process.env.PORT||3000,path:'/healthz',rejectUnauthorized:false},r=>process.exit(r.statusCode===200?0:1)).on('error',()=>process.exit(1))"]
# node itself as PID 1 (not npm), so SIGTERM reaches the receiver and it drains before exiting. The heap flags
# are `npm start`'s (package.json): a small young generation and a capped old space keep RSS under 120 MB under
# load (docs/performance.md); test/deploy checks that the two agree.
CMD ["node", "--max-semi-space-size=8", "--max-old-space-size=96", "dist/main.js"]
