#!/usr/bin/env bash
# Encode throughput on one core, posttrain (BenchmarkEncode) against Hugging Face
# tokenizers (npm binding of the Rust library), on the same documents in the same
# run, and a check that both produce the same ids. Not part of `go test`.
#
#   bench/tokenizer/run.sh [TOKENIZER_DIR]
#
# Needs node and `npm install` in this folder (node_modules is git-ignored).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
tokdir=$(cd "${1:-$repo/../shared/fixtures/tokenizer/llama3}" && pwd)
cd "$here"
[ -d node_modules/tokenizers ] || npm install --no-audit --no-fund >/dev/null

# One core for both: Rust's thread pools and libuv's pool get one thread, and
# taskset pins each process to CPU 0.
export RAYON_NUM_THREADS=1 TOKENIZERS_PARALLELISM=false UV_THREADPOOL_SIZE=1 GOMAXPROCS=1
pin="taskset -c 0"
command -v taskset >/dev/null || pin=""

goroot=$(go env GOROOT)
node bench.js corpus "$tokdir" corpus.jsonl \
  "$goroot/doc/go_spec.html" "$goroot/doc/go_mem.html" "$goroot/src/net/http/server.go" \
  /usr/share/common-licenses/GPL-3 /usr/share/common-licenses/Apache-2.0

hf=$($pin node bench.js encode "$tokdir" corpus.jsonl hf_ids.out)
echo "$hf"

(cd "$repo" && go build -o "$here/posttrain.out" ./cmd/posttrain)
./posttrain.out tokenize --tokenizer "$tokdir" --special --jsonl corpus.jsonl > go_ids.out
if cmp -s hf_ids.out go_ids.out; then echo "ids: identical to Hugging Face on every document"; else echo "ids: DIFFER from Hugging Face (see hf_ids.out, go_ids.out)"; exit 1; fi

gobench=$(cd "$repo" && POSTTRAIN_TOKENIZER_CORPUS="$here/corpus.jsonl" $pin go test -run '^$' -bench 'BenchmarkEncode' -benchtime 3s -cpu 1 ./tokenizer)
echo "$gobench" | grep '^Benchmark'
go_ids=$(echo "$gobench" | awk '/BenchmarkEncode\/ids/ {for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") print $i}')
go_off=$(echo "$gobench" | awk '/BenchmarkEncode\/offsets/ {for (i=1;i<=NF;i++) if ($(i+1)=="MB/s") print $i}')
hf_mbps=$(echo "$hf" | sed -E 's/.*"mb_per_s":([0-9.]+).*/\1/')
awk -v g="$go_ids" -v o="$go_off" -v h="$hf_mbps" 'BEGIN {
  printf "posttrain Encode %.1f MB/s, EncodeWithOffsets %.1f MB/s, HF tokenizers %.1f MB/s: ratio %.2fx (%.2fx with offsets)\n", g, o, h, g/h, o/h }'
