# Dormouse as a team deploys it: one image, run as N replicas behind a load balancer.
#
#   docker build -t dormouse .
#   docker run -p 3000:3000 -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET -e DORMOUSE_OPS_CHANNEL -e AWS_REGION dormouse
#
# With no Slack configured it runs the sandbox, whose console listens on loopback only: add
# `-e HOST=0.0.0.0` to open it from outside the container.
#
# Three stages. `build` installs everything and type-checks the source: an image is only made
# from code that compiles. `deps` installs the production dependencies alone. The runtime
# image takes the checked source from the first and node_modules from the second, so it holds
# no compiler, no test tools and no npm cache.
#
# The runtime runs TypeScript through tsx (a production dependency, as for `npm start`), not
# a tsc build in dist/: the code reads files that sit beside it (src/data-scripts/*.sh, the
# sandbox's step runner and console assets), which tsc would not copy, and one way of running
# it everywhere is one way less to break. tsx compiles each file as it is first loaded.
#
# test/deploy/dockerfile.test.ts checks the rules below (and runs dockerfilelint);
# test/deploy/production-build.test.ts runs these steps outside a container and waits for /healthz.

# The base image is pinned to a patch version (20.20.2, the Node CI ran the tests with when
# this was written), so a rebuild cannot bring another Node. It is pinned by tag, not digest:
# no container registry can be reached from where this file is written and tested, so a
# digest could not be checked; a team with registry access should add `@sha256:…` and let a
# bot such as Renovate bump both. Node 20 reached its end of life in April 2026: moving to 22
# is these three FROM lines, package.json's engines and CI's Node, together.
# bookworm-slim: Debian with glibc, so the prebuilt native modules (classic-level, esbuild)
# load as they do in CI, with no compiler in the image.
FROM node:20.20.2-bookworm-slim AS build
WORKDIR /app
# The lockfile first: the install layer is reused until a dependency changes.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
RUN npm run typecheck

FROM node:20.20.2-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:20.20.2-bookworm-slim AS runtime
# No secrets here, ever: SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (or SLACK_APP_TOKEN) come from
# the platform's secret store (Secrets Manager or SSM Parameter Store, given to the task as
# environment variables), and AWS credentials from the task role. See .env.example for every key.
ENV NODE_ENV=production
# Only the sandbox writes files (when no Slack is configured); its folder is one the node user
# may write, while the code under /app stays owned by root and cannot be changed by the process.
ENV DORMOUSE_SANDBOX_DIR=/tmp/dormouse
WORKDIR /app
# package.json says "type": "module", which tsx needs to load src/ as ESM; tsx reads tsconfig.json.
COPY package.json tsconfig.json ./
# The default templates file (DORMOUSE_TEMPLATES), read at start.
COPY infra/templates.yml ./infra/templates.yml
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/src ./src
USER node
EXPOSE 3000
# /healthz answers 200 once the bot is ready (503 before). Slim images have no curl: node asks.
# 127.0.0.1 works in every mode: HTTP and Socket Mode listen on 0.0.0.0 (unless HOST says
# otherwise), the sandbox on loopback.
# No --start-period: the bot is ready within seconds, long before the first check at 30 s
# (and dockerfilelint 1.8.0 misreads that option's inner dash as an unknown option).
HEALTHCHECK --interval=30s --timeout=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form: node is PID 1 and gets SIGTERM itself, on which the bot gives its work back and
# exits 0. It spawns no children in AWS mode; if it ever does, run it with an init (`docker run
# --init`, ECS `initProcessEnabled`) to reap them.
CMD ["node", "--import", "tsx", "src/main.ts"]
