# Shared by scripts/test and scripts/server (sourced, not run).
# RocksDB's C++ takes ~25 CPU-minutes to build. The first build compiles it as usual; its static
# library is then kept in ~/.cache/strata-rocksdb/<librocksdb-sys version>/ and later builds link
# that copy (ROCKSDB_LIB_DIR), whatever target directory or profile they use.

strata_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/strata-target}
rocksdb_version=$(awk '/^name = "librocksdb-sys"/{getline; gsub(/[" ]/, "", $0); sub("version=", "", $0); print; exit}' "$strata_root/Cargo.lock")
rocksdb_cache=$HOME/.cache/strata-rocksdb/$rocksdb_version

# Links the cached RocksDB library when there is one.
use_cached_rocksdb() {
  if [[ -n $rocksdb_version && -f $rocksdb_cache/librocksdb.a ]]; then
    export ROCKSDB_LIB_DIR=$rocksdb_cache ROCKSDB_STATIC=1
  fi
}

# Keeps the library a build just compiled, for the next build.
cache_rocksdb() {
  [[ -n $rocksdb_version && ! -f $rocksdb_cache/librocksdb.a ]] || return 0
  local lib
  lib=$(ls -t "$CARGO_TARGET_DIR"/*/build/librocksdb-sys-*/out/librocksdb.a 2>/dev/null | head -n1 || true)
  [[ -n $lib ]] || return 0
  mkdir -p "$rocksdb_cache"
  cp "$lib" "$rocksdb_cache/librocksdb.a.tmp" && mv "$rocksdb_cache/librocksdb.a.tmp" "$rocksdb_cache/librocksdb.a"
}
