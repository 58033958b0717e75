#!/usr/bin/env bash
# Downloads the wheels the GPU machine lacks (it reaches no package registry) and
# unpacks them into benchmarks/.gpu_site, an ignored folder that travels with the
# run (carry: ["benchmarks/.gpu_site"]). Run here, once, before gpu_check.sh.
# Pure-Python wheels fit any Python; optree, regex and PyYAML are built for the GPU
# machine's CPython 3.12 on x86-64 Linux.
set -euo pipefail
cd "$(dirname "$0")"
site=.gpu_site
wheels=.gpu_wheels
rm -rf "$site" "$wheels"
mkdir -p "$site" "$wheels"
versions=$(python - <<'PY'
import re
pins = dict(re.findall(r"^([A-Za-z0-9_.-]+)==([^\s#]+)", open("../requirements.txt").read(), re.M))
print(" ".join(f"{name}=={pins[name]}" for name in ("keras", "keras-hub")))
PY
)
python -m pip download --quiet --no-deps --dest "$wheels" $versions namex kagglehub
python -m pip download --quiet --no-deps --dest "$wheels" --only-binary=:all: \
    --python-version 3.12 --implementation cp --abi cp312 --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64 \
    optree regex PyYAML
for wheel in "$wheels"/*.whl; do
    python -m zipfile -e "$wheel" "$site"
done
rm -rf "$wheels"
du -sh "$site"
