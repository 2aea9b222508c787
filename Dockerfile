# The production image: the README's production commands, nothing else.
#   docker build --build-arg APP_REVISION=$(git rev-parse --short=12 HEAD) -t pipedrive-messaging-bridge .
# Not built in this project's CI (no container runtime there); .ci/run proves the same
# commands on a fresh copy of the tree.
FROM node:24-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
# The runtime needs no devDependencies: TypeScript runs through tsx (a dependency), and Node 24
# comes from the `node` dependency, so `npm start` runs the pinned version whatever the base has.
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY app ./app
COPY db/migrations ./db/migrations
# The operator tools (`npm run dead-letters`, `npm run manifest`) run in the image too.
COPY scripts/dead-letters.ts scripts/print-manifest.ts ./scripts/
# sqlite (single-process default) and local attachments live here; mount volumes on them,
# or use PostgreSQL (DATABASE_URL) and an S3 bucket (FILES_STORE) as compose.yaml does.
RUN mkdir -p db data && chown node:node db data

ARG APP_REVISION=unknown
ENV APP_REVISION=${APP_REVISION} PORT=3000
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s CMD ["node", "-e", "fetch('http://127.0.0.1:'+process.env.PORT+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["npm", "start"]
