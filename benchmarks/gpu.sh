#!/usr/bin/env bash
# The GPU session's recipe: benchmarks and training sweeps on one GPU, results under $OUT.
#
#   bash benchmarks/gpu.sh STAGE [STAGE ...]      stages: env bench data mppde endcl pack
#
# env    the GPU and the imports;  bench  python -m benchmarks NAME -> $OUT/bench_NAME.json for each benchmark
# data   E1 with the original generator's quirks (2048 train, 128 valid with WENO5), nx 100 and 50
# mppde  train/sweeps/gpu_mppde.txt;  endcl  train/sweeps/gpu_end_clifford.txt (budgets from the variables below)
# pack   the sweeps' workdirs without checkpoints -> $OUT/runs.tgz
# Wheels in .whl/ (packages the machine lacks) are installed to /tmp/site first. PARALLEL (default 1) jobs run at
# once: these models are launch-bound, so side by side they share one stream of kernels (RESULTS.md).
set -u
OUT=${OUT:-runs/gpu_out}
mkdir -p "$OUT"
PY=${PY:-python3}
if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
  $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
DATA=${DATA:-runs/data/e1f}
NUM_TRAIN=${NUM_TRAIN:-2048}
LOG=${LOG:-500}
# MP-PDE: 20 epochs of PASSES passes over the 2048 trajectories (batch 16) = 2560 * PASSES steps
export MP="--config train/configs/mppde.py:small --config.data_dir=$DATA --config.passes_per_epoch=${PASSES:-10} \
--config.fit.num_steps=${STEPS:-25600} --config.fit.eval_every=${EVAL:-6400} --config.fit.checkpoint_every=${STEPS:-25600} \
--config.fit.log_every=$LOG --config.fit.progress=False"
export END="--config train/configs/end.py:paper --config.num_eval=4096 --config.num_test=${NUM_TEST:-100000} --config.fit.eval_every=${EVAL_END:-10000} \
--config.fit.checkpoint_every=0 --config.fit.log_every=$LOG --config.fit.progress=False"
export STEPS_L4=${STEPS_L4:-20000} STEPS_L6=${STEPS_L6:-30000} STEPS_L8=${STEPS_L8:-40000}
export CL="--config train/configs/clifford.py:small --config.pde=smoke --config.nx=${NX_CL:-64} --config.nt=32 \
--config.num_train=${NUM_TRAIN_CL:-256} --config.num_valid=32 --config.fit.num_steps=${STEPS_CL:-5000} \
--config.fit.eval_every=${EVAL_CL:-2500} --config.fit.checkpoint_every=0 --config.fit.log_every=$LOG --config.fit.progress=False"

for stage in "$@"; do
  echo "== $stage $(date -u +%H:%M:%S)"
  case $stage in
    env)
      nvidia-smi -L
      $PY -c "import jax, flax, optax, jraph, ml_collections, pymatching, diffrax, orbax.checkpoint; print('jax', jax.__version__, jax.devices())" || exit 1 ;;
    bench)  # one JSON per benchmark, each under a time limit
      for name in ${BENCH:-core pde mppde clifford end}; do
        timeout "${BENCH_TIMEOUT:-240}" $PY -m benchmarks "$name" --json "$OUT/bench_$name.json" 2>&1 | tee -a "$OUT/bench.log"
      done ;;
    data)
      /usr/bin/time -f "train data %e s" $PY -m jaxsci.pde.generate E1 --faithful --nx 100 50 --num "$NUM_TRAIN" --chunk 512 \
        --split train --out "$DATA" --quiet || exit 1
      /usr/bin/time -f "valid data %e s" $PY -m jaxsci.pde.generate E1 --faithful --baseline --nx 100 50 --num 128 --chunk 128 \
        --split valid --out "$DATA" --quiet || exit 1 ;;
    mppde)
      $PY -m train.sweep train/sweeps/gpu_mppde.txt --root runs/sweep_mppde --parallel "${PARALLEL:-1}" \
        ${DEADLINE:+--deadline $DEADLINE} ${ONLY:+--only $ONLY} --show acc_error weno_acc_error ;;
    endcl)
      $PY -m train.sweep train/sweeps/gpu_end_clifford.txt --root runs/sweep_endcl --parallel "${PARALLEL:-1}" \
        ${DEADLINE:+--deadline $DEADLINE} ${ONLY:+--only $ONLY} --show acc_p0.15 onestep_mse rollout_mse ;;
    pack)
      tar czf "$OUT/runs.tgz" --exclude=checkpoints runs/sweep_* 2>/dev/null; ls -la "$OUT" ;;
    *) echo "unknown stage $stage"; exit 2 ;;
  esac
done
