#!/usr/bin/env bash
# The build check: the package as published (lint of package.json and exports, types for
# every resolution mode) and a smoke test that imports and requires the built output.
set -euo pipefail
cd "$(dirname "$0")/.."
npx publint --strict
npx attw --pack . --profile node16 --format ascii
node scripts/smoke.mjs
