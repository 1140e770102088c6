#!/usr/bin/env bash
# A newcomer's first hour, on simulated data: every command here is also in
# the README's "Walkthrough" section, and tests/test_walkthrough.py runs this
# file in CI, so the README stays true. Run it from an empty folder, with the
# project's virtualenv active (`. .venv/bin/activate` in the checkout).
set -euo pipefail
export VELO_REGISTRY_DIR="$PWD/registry"    # the registry lives here, whatever folder you run velo from

# 1. Data: 24 simulated days (12 race days) (or --source hk --data ../shared/data/hkracing, see "Data")
velo data convert --source sim --days 24 --output sim.parquet

# 2. Train on the first weeks, register, promote
velo train --data sim.parquet --until 2024-01-20 --sqpe-iterations 30 --out trained/v1
velo models register velo --from trained/v1 --no-publish
velo models promote velo 1 --no-publish
velo models list

# 3. Walk-forward backtest, and the champion scored offline on the races it never saw
velo backtest --data sim.parquet --test-from 2024-01-20 --period month --sqpe-iterations 30 --out out/walk-forward
velo backtest --model velo --data sim.parquet --test-from 2024-01-20 --period month --out out/offline
velo explain --model velo --data sim.parquet --top 3 --out out/explain

# 4. The stream: a broker and Redis, a worker, the history replayed through Kafka
velo up > up.log 2>&1 &
trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT
until grep -q VELO_REDIS_URL up.log; do sleep 0.5; done
eval "$(grep '^export VELO_' up.log)"
velo worker --model velo --web-port "${WEB_PORT:-6066}" > worker.log 2>&1 &
until curl -sf "localhost:${WEB_PORT:-6066}/ready" > /dev/null; do sleep 1; done
velo replay --source sim --days 24 --model velo
velo backtest --from-topics --period month --out out/served   # only races after the model's training data
velo topics tail predictions --from-beginning --limit 3
