#!/usr/bin/env bash
# dormouse restore: streams one stored archive back into a server's data folder.
#
#   byte ranges of the object (curl -r into the scratch folder, each retried whole, the next one
#   fetched while the current one is extracted); each range is then read twice: into the SHA-256
#   of the whole object, and into zstd -d (or gzip -d) | tar -x
#   then the SHA-256 and size are compared with the expected ones; on any failure after
#   the extraction started, what was extracted is removed again.
#
# Inputs (environment only; nothing here comes from what a person typed):
#   DORMOUSE_DATA_DIR          absolute folder (created when missing)
#   DORMOUSE_DATA_PATHS        paths relative to it, one a line, cleared before extracting
#                              (`.` = the folder's contents)
#   DORMOUSE_OBJECT_URL        presigned GET of the stored object
#   DORMOUSE_OBJECT_BYTES      its expected size
#   DORMOUSE_OBJECT_SHA256     its expected SHA-256 (hex)
#   DORMOUSE_COMPRESSION       zstd | gzip
#   DORMOUSE_RANGE_BYTES       optional, default 64 MiB: bytes per ranged GET
#   DORMOUSE_RANGES_AHEAD      optional, default 1: ranges downloaded ahead of the one being extracted
#                              (each range in flight is buffered in scratch: 1 + this many)
#   DORMOUSE_SCRATCH_DIR       optional, default ${TMPDIR:-/tmp}
#   DORMOUSE_TREE_DIGEST       optional, 1: also print a digest of the restored tree
#
# The tree digest is the SHA-256 of (1) one NUL-terminated record per entry under the data paths
# (found from the data folder: `./…` for `.`), sorted bytewise:
#   `f <mode> <size> <path>` · `l <path> -> <target>` · `<find type> <mode> <path>` (d, p, s, …),
#   mode as `%#m` prints it (0755); then (2) `sha256sum` lines (`<hex>  <path>`) of the regular
#   files, sorted bytewise by path. Times and owners are left out.
#
# Exit codes: 0 restored · 1 a tool failed (tar, the decompressor, …) · 2 invalid input ·
# 3 the stored object is not the one expected (SHA-256 or size) · 5 zstd needed but not
# installed · 6 the store refused a request or could not be reached (after retries).
# Progress goes to stderr. On success the last (only) line on stdout is:
#   dormouse-restore v1 bytes=<n> sha256=<hex> entries=<n> tree=<hex or ->

# Needs bash >= 4.4, GNU tar, find and coreutils, curl; zstd or gzip; openssl optional.
# SSM may hand this body to sh (dash on Ubuntu): run it under bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

set -euo pipefail
umask 022

me=dormouse-restore
say() { printf '%s: %s\n' "$me" "$*" >&2; }
die() {
  local code=$1
  shift
  say "$*"
  exit "$code"
}
# Time without a subshell (on a small server every fork counts): $ms_now, and $elapsed ("12.3", seconds since start).
clock_ms() {
  if [[ -n ${EPOCHREALTIME:-} ]]; then
    local t=${EPOCHREALTIME/[.,]/}
    ms_now=$((10#$t / 1000))
  else
    ms_now=$(date +%s%3N)
  fi
}
clock_elapsed() {
  clock_ms
  local ms=$((ms_now - start_ms))
  printf -v elapsed '%d.%d' $((ms / 1000)) $((ms % 1000 / 100))
}
# The value of the last header `name` (lowercase) in a file of response headers, in $header.
read_header() {
  local line name=$1 file=$2
  header=
  while IFS= read -r line || [[ -n $line ]]; do
    line=${line%$'
'}
    if [[ ${line,,} == "$name:"* ]]; then
      header=${line#*:}
      header=${header#"${header%%[![:space:]]*}"}
      header=${header%"${header##*[![:space:]]}"}
    fi
  done <"$file"
}
is_count() { [[ $1 =~ ^[1-9][0-9]{0,14}$ ]]; }
# A presigned URL is a bearer secret: curl reads it from its standard input (a config line), never
# from its command line, where any user of the server could read it (ps, /proc).
# Sets $url_config (no subshell).
curl_url_config() {
  [[ $1 != *[\"\\]* && $1 != *$'\n'* ]] || die 2 'a presigned URL holds a quote, a backslash or a line break.'
  printf -v url_config 'url = "%s"' "$1"
}
sha256_hex() {
  if command -v openssl >/dev/null 2>&1; then
    openssl dgst -sha256 -r | cut -c1-64
  else
    sha256sum | cut -c1-64
  fi
}

# ---- inputs ------------------------------------------------------------------
data_dir=${DORMOUSE_DATA_DIR:-}
[[ $data_dir == /* ]] || die 2 "DORMOUSE_DATA_DIR must be an absolute folder (got '${data_dir}')."
url=${DORMOUSE_OBJECT_URL:-}
[[ -n $url ]] || die 2 'DORMOUSE_OBJECT_URL is missing.'
curl_url_config "$url"
object_bytes=${DORMOUSE_OBJECT_BYTES:-}
is_count "$object_bytes" || die 2 "DORMOUSE_OBJECT_BYTES must be a positive whole number (got '${object_bytes}')."
expected_sha=${DORMOUSE_OBJECT_SHA256:-}
[[ $expected_sha =~ ^[0-9a-f]{64}$ ]] || die 2 "DORMOUSE_OBJECT_SHA256 must be 64 lowercase hex digits (got '${expected_sha}')."
range_bytes=${DORMOUSE_RANGE_BYTES:-67108864}
is_count "$range_bytes" || die 2 "DORMOUSE_RANGE_BYTES must be a positive whole number (got '${range_bytes}')."
ranges_ahead=${DORMOUSE_RANGES_AHEAD:-1}
is_count "$ranges_ahead" || die 2 "DORMOUSE_RANGES_AHEAD must be a positive whole number (got '${ranges_ahead}')."
case ${DORMOUSE_TREE_DIGEST:-0} in 0 | '') tree_digest=0 ;; *) tree_digest=1 ;; esac

case ${DORMOUSE_COMPRESSION:-} in
  zstd)
    command -v zstd >/dev/null 2>&1 || die 5 'this archive is zstd-compressed but zstd is not installed: install zstd (e.g. dnf/apt-get install zstd) and restore again.'
    decompress=(zstd -q -d -c)
    ;;
  gzip) decompress=(gzip -d -c) ;;
  *) die 2 "DORMOUSE_COMPRESSION must be zstd or gzip (got '${DORMOUSE_COMPRESSION:-}')." ;;
esac

paths=()
while IFS= read -r p || [[ -n $p ]]; do
  [[ -z $p ]] && continue
  if [[ $p == /* || /$p/ == */../* ]]; then
    die 2 "data path '$p' must be relative to $data_dir, without '..'."
  fi
  paths+=("$p")
done <<<"${DORMOUSE_DATA_PATHS:-}"
((${#paths[@]} > 0)) || die 2 'DORMOUSE_DATA_PATHS lists no path.'

scratch_root=${DORMOUSE_SCRATCH_DIR:-${TMPDIR:-/tmp}}
mkdir -p -- "$scratch_root"
scratch=$(mktemp -d "$scratch_root/dormouse-restore.XXXXXX")

# Removes what the data paths hold (for `.`, the folder's contents, not the folder).
clear_paths() {
  local p target
  for p in "${paths[@]}"; do
    if [[ $p == . || $p == ./ ]]; then
      [[ -d $data_dir ]] || continue
      find "$data_dir" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} + 2>/dev/null ||
        { chmod -R u+rwx -- "$data_dir" && find "$data_dir" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +; }
    else
      target=$data_dir/$p
      [[ -e $target || -L $target ]] || continue
      rm -rf -- "$target" 2>/dev/null || { chmod -R u+rwx -- "$target" && rm -rf -- "$target"; }
    fi
  done
}

# ---- clean-up on any exit --------------------------------------------------------
extracting=0
hash_pid=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  if [[ -n $hash_pid ]]; then kill "$hash_pid" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  if ((status != 0 && extracting == 1)); then
    say 'removing what was extracted.'
    clear_paths || say 'could not remove everything that was extracted.'
  fi
  rm -rf -- "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# " (AccessDenied)" from an S3 error document, or nothing.
s3_error() {
  local c
  c=$(sed -n 's/.*<Code>\([A-Za-z0-9.]*\)<\/Code>.*/\1/p' "$1" 2>/dev/null | head -n 1) || true
  [[ -n $c ]] && printf ' (%s)' "$c"
  return 0
}

# ---- one range → $scratch/range.<k>: whole, or retried whole -----------------------
ranges=$(((object_bytes + range_bytes - 1) / range_bytes))
download_range() {
  local k=$1 f="$scratch/range.$1" start end want code rc attempt total size curl_pid=''
  trap '[[ -n $curl_pid ]] && kill "$curl_pid" 2>/dev/null; exit 143' TERM
  start=$((k * range_bytes))
  end=$((start + range_bytes - 1))
  ((end < object_bytes)) || end=$((object_bytes - 1))
  want=$((end - start + 1))
  for attempt in 1 2 3 4 5; do
    rc=0
    curl -sS -r "$start-$end" -D "$f.headers" -o "$f" -w '%{http_code}' \
      --connect-timeout 20 --speed-limit 1024 --speed-time 60 -K - >"$f.code" <<<"$url_config" &
    curl_pid=$!
    wait "$curl_pid" || rc=$?
    curl_pid=
    IFS= read -r code <"$f.code" || true
    size=$(stat -c %s -- "$f" 2>/dev/null || echo 0)
    if [[ $rc == 0 && ($code == 206 || ($code == 200 && $ranges == 1)) ]]; then
      read_header content-range "$f.headers"
      total=${header##*/}
      [[ $code == 200 ]] && total=$size
      if [[ -n $total && $total != "$object_bytes" ]]; then
        die 3 "the stored object is $total bytes, $object_bytes were expected: it is not the archive this restore is for."
      fi
      ((size == want)) && return 0
      say "range $((k + 1)) of $ranges: $size bytes received, $want expected."
    elif [[ $code == 416 ]]; then
      die 3 "the stored object is smaller than the $object_bytes bytes expected: it is not the archive this restore is for."
    elif [[ $code == 200 ]]; then
      die 6 'the store ignored the byte range asked for.'
    elif [[ $code == 4* && $code != 408 && $code != 429 ]]; then
      die 6 "the store refused the download: HTTP $code$(s3_error "$f")."
    fi
    if ((attempt == 5)); then
      die 6 "range $((k + 1)) of $ranges could not be downloaded after 5 attempts (HTTP $code, curl exit $rc)."
    fi
    say "range $((k + 1)) of $ranges: download failed (HTTP $code, curl exit $rc), attempt $attempt of 5, retrying."
    sleep $((attempt * attempt))
  done
}

# Writes the object to stdout, range after range, downloading the next while this one is consumed.
feed() {
  local k rc next=1 pids=()
  # A failure or a stop ends the downloads under way too (their own trap stops their curl).
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done' EXIT
  trap 'exit 143' TERM
  for ((k = 0; k < ranges; k++)); do
    while ((next < ranges && next <= k + ranges_ahead)); do
      download_range "$next" &
      pids[next]=$!
      next=$((next + 1))
    done
    if ((k > 0)); then
      rc=0
      wait "${pids[k]}" || rc=$?
      unset 'pids[k]'
      ((rc == 0)) || exit "$rc"
    fi
    # The checksum first, then the decompressor: two reads of a cached file cost less than a tee.
    # A decompressor that stopped reading is not fatal here: the checksum of the whole object
    # then tells a damaged object (exit 3) from a failing extraction (exit 1).
    cat -- "$scratch/range.$k" >&4 || exit 1
    cat -- "$scratch/range.$k" 2>/dev/null || true
    rm -f -- "$scratch/range.$k" "$scratch/range.$k.headers" "$scratch/range.$k.code"
    clock_elapsed
    say "range $((k + 1)) of $ranges read, ${elapsed} s"
  done
}

clock_ms
start_ms=$ms_now
# The first range first: a wrong size is found before anything is cleared. (In a subshell, as
# every download: its traps and exits are its own.)
rc=0
(download_range 0) || rc=$?
((rc == 0)) || exit "$rc"

extracting=1
clear_paths
mkdir -p -- "$data_dir"
mkfifo "$scratch/sha.fifo"
sha256_hex <"$scratch/sha.fifo" >"$scratch/sha256" &
hash_pid=$!
set +e
feed 4>"$scratch/sha.fifo" | "${decompress[@]}" |
  tar -C "$data_dir" --numeric-owner -x -p -v -f - | wc -l >"$scratch/entries"
status=("${PIPESTATUS[@]}")
set -e
feed_rc=${status[0]} decompress_rc=${status[1]} tar_rc=${status[2]}
((feed_rc == 0)) || exit "$feed_rc" # feed / download_range said why
rc=0
wait "$hash_pid" || rc=$?
hash_pid=
((rc == 0)) || die 1 "computing the SHA-256 failed (exit $rc)."
sha=$(cat "$scratch/sha256")
if [[ $sha != "$expected_sha" ]]; then
  die 3 "the stored object's SHA-256 is $sha but $expected_sha was expected: it is damaged or not the archive this restore is for."
fi
# tar stopping takes the decompressor along (SIGPIPE, 141): name the one that failed first.
if ((decompress_rc != 0 && decompress_rc != 141)); then die 1 "${decompress[0]} failed (exit $decompress_rc)."; fi
((tar_rc == 0)) || die 1 "tar failed (exit $tar_rc): see its messages above."
((decompress_rc == 0)) || die 1 "${decompress[0]} failed (exit $decompress_rc)."
entries=$(tr -d ' ' <"$scratch/entries")

tree=-
if ((tree_digest == 1)); then
  tree=$(
    cd -- "$data_dir"
    {
      find "${paths[@]}" \( -type f -printf 'f %#m %s %p\0' \) -o \( -type l -printf 'l %p -> %l\0' \) \
        -o -printf '%y %#m %p\0' | LC_ALL=C sort -z
      find "${paths[@]}" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum --
    } | sha256sum | cut -c1-64
  ) || die 1 'computing the tree digest failed.'
fi
extracting=0

clock_elapsed
say "restored $object_bytes bytes ($entries entries) in ${elapsed} s"
echo "dormouse-restore v1 bytes=$object_bytes sha256=$sha entries=$entries tree=$tree"
