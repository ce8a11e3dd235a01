#!/usr/bin/env bash
# `npm test`: every test, in order of cost. Fails on the first failing tier.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Debian packages"
scripts/ensure-debian-packages.sh

echo "== node modules"
[[ -d node_modules ]] || npm ci

echo "== build"
node scripts/build.mjs

echo "== lint (module boundaries, types of tests, proto)"
(cd proto && npx buf lint)
# The module-boundary rule reads the project graph Nx caches; without it the rule skips itself.
NX_DAEMON=false npx nx show projects > /dev/null
npx eslint --max-warnings 0 .
npx tsc -p tsconfig.test.json

echo "== tests"
npx vitest run

echo "== kernel tier (AppArmor and SELinux in a qemu VM)"
npm run test:kernel
