#!/usr/bin/env bash
# dormouse save: streams a server's data to one S3 multipart upload.
#
#   tar -C $DORMOUSE_DATA_DIR -cf - <paths> | zstd -T0 (or gzip) → parts of DORMOUSE_PART_BYTES
#   each part: buffered in the scratch folder, fed to the SHA-256 of the whole stream, then (in
#   the background, DORMOUSE_PARTS_IN_FLIGHT at a time, while the next part is produced) its MD5
#   computed, PUT to its presigned URL (a few retries), and the ETag the store answers compared
#   with the MD5.
#
# Inputs (environment only; nothing here comes from what a person typed):
#   DORMOUSE_DATA_DIR          absolute folder (created when missing)
#   DORMOUSE_DATA_PATHS        paths relative to it, one a line (`.` = the whole folder)
#   DORMOUSE_PART_URLS_URL     presigned GET of a text file: line n = presigned UploadPart URL of part n
#   DORMOUSE_PART_BYTES        part size in bytes (S3 wants >= 5 MiB for every part but the last)
#   DORMOUSE_MAX_PARTS         at most this many parts
#   DORMOUSE_COMPRESSION       auto (zstd when on PATH, else gzip) | zstd | gzip
#   DORMOUSE_SCRATCH_DIR       optional, default ${TMPDIR:-/tmp}: holds the parts in flight
#   DORMOUSE_PARTS_IN_FLIGHT   optional, default 2: parts uploading at once (each buffered in scratch)
#
# Exit codes: 0 saved · 1 a tool failed (tar, the compressor, …) · 2 invalid input (a data path
# missing, a bad value) · 3 the store's ETag is not the part's MD5 · 4 more data than
# DORMOUSE_MAX_PARTS parts · 5 zstd asked for but not installed · 6 the store refused a request
# or could not be reached (after retries).
# Progress goes to stderr. On success the last (only) line on stdout is:
#   dormouse-save v1 bytes=<stored bytes> sha256=<hex> parts=<n> compression=<zstd|gzip> entries=<n>

# Needs bash >= 4.4, GNU tar and coreutils, curl; zstd or gzip (pigz used when present); openssl optional.
# SSM may hand this body to sh (dash on Ubuntu): run it under bash.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

set -euo pipefail
umask 077

me=dormouse-save
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
# SHA-256 of stdin, hex. openssl uses the CPU's SHA instructions (several times faster than sha256sum).
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
urls_url=${DORMOUSE_PART_URLS_URL:-}
[[ -n $urls_url ]] || die 2 'DORMOUSE_PART_URLS_URL is missing.'
curl_url_config "$urls_url"
urls_config=$url_config
part_bytes=${DORMOUSE_PART_BYTES:-}
is_count "$part_bytes" || die 2 "DORMOUSE_PART_BYTES must be a positive whole number (got '${part_bytes}')."
max_parts=${DORMOUSE_MAX_PARTS:-}
is_count "$max_parts" || die 2 "DORMOUSE_MAX_PARTS must be a positive whole number (got '${max_parts}')."
in_flight=${DORMOUSE_PARTS_IN_FLIGHT:-2}
is_count "$in_flight" || die 2 "DORMOUSE_PARTS_IN_FLIGHT must be a positive whole number (got '${in_flight}')."

case ${DORMOUSE_COMPRESSION:-auto} in
  auto) if command -v zstd >/dev/null 2>&1; then compression=zstd; else compression=gzip; fi ;;
  zstd)
    command -v zstd >/dev/null 2>&1 || die 5 'zstd was asked for but is not installed: install zstd (or use gzip).'
    compression=zstd
    ;;
  gzip) compression=gzip ;;
  *) die 2 "DORMOUSE_COMPRESSION must be auto, zstd or gzip (got '${DORMOUSE_COMPRESSION}')." ;;
esac
if [[ $compression == zstd ]]; then
  compress=(zstd -q -T0 -c)
elif command -v pigz >/dev/null 2>&1; then
  compress=(pigz -c)
else
  compress=(gzip -c)
fi

mkdir -p -- "$data_dir"
paths=()
while IFS= read -r p || [[ -n $p ]]; do
  [[ -z $p ]] && continue
  if [[ $p == /* || /$p/ == */../* ]]; then
    die 2 "data path '$p' must be relative to $data_dir, without '..'."
  fi
  if [[ ! -e $data_dir/$p && ! -L $data_dir/$p ]]; then
    die 2 "data path '$p' does not exist in $data_dir."
  fi
  paths+=("$p")
done <<<"${DORMOUSE_DATA_PATHS:-}"
((${#paths[@]} > 0)) || die 2 'DORMOUSE_DATA_PATHS lists no path.'

scratch_root=${DORMOUSE_SCRATCH_DIR:-${TMPDIR:-/tmp}}
mkdir -p -- "$scratch_root"
scratch=$(mktemp -d "$scratch_root/dormouse-save.XXXXXX")

# ---- clean-up on any exit --------------------------------------------------------
upload_pids=()
upload_parts=()
producer_pid=
hash_pid=
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  exec 3<&- 4>&- 2>/dev/null || true # the producer gets SIGPIPE, the hash its end of file
  local pid
  for pid in "${upload_pids[@]}" $producer_pid $hash_pid; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf -- "$scratch"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM


# ---- the URLs of the parts -------------------------------------------------------
# Retries: curl's own for transient failures, and a few of ours for anything but a refusal (4xx).
fetch_urls() {
  local attempt code rc
  for attempt in 1 2 3 4 5; do
    rc=0
    code=$(curl -sS --connect-timeout 20 --max-time 300 -o "$scratch/urls" -w '%{http_code}' -K - \
      <<<"$urls_config") || rc=$?
    [[ $rc == 0 && $code == 200 ]] && return 0
    if [[ $code == 4* && $code != 408 && $code != 429 ]]; then
      die 6 "the store refused the list of upload URLs: HTTP $code$(s3_error "$scratch/urls")."
    fi
    say "fetching the list of upload URLs failed (HTTP $code, curl exit $rc), attempt $attempt of 5."
    sleep $((attempt * attempt))
  done
  die 6 'could not fetch the list of upload URLs after 5 attempts.'
}
# " (SignatureDoesNotMatch)" from an S3 error document, or nothing.
s3_error() {
  local c
  c=$(sed -n 's/.*<Code>\([A-Za-z0-9.]*\)<\/Code>.*/\1/p' "$1" 2>/dev/null | head -n 1) || true
  [[ -n $c ]] && printf ' (%s)' "$c"
  return 0
}
fetch_urls
mapfile -t urls <"$scratch/urls"
rm -f -- "$scratch/urls"
urls=("${urls[@]%$'\r'}")
if ((${#urls[@]} < max_parts)); then max_parts=${#urls[@]}; fi
((max_parts > 0)) || die 6 'the list of upload URLs is empty.'

# ---- one part: MD5, PUT (retried), ETag check ------------------------------------
# Runs in the background; exits 0, 3 (ETag mismatch) or 6 (refused / unreachable).
upload_part() {
  local n=$1 file=$2 size=$3 sofar=$4 url=${urls[$(($1 - 1))]}
  local md5 etag code rc attempt config curl_pid=''
  trap '[[ -n $curl_pid ]] && kill "$curl_pid" 2>/dev/null; exit 143' TERM
  curl_url_config "$url"
  config=$url_config
  md5=$(md5sum <"$file") || die 1 "computing the MD5 of part $n failed."
  md5=${md5%% *}
  for attempt in 1 2 3 4 5; do
    rc=0
    # `Expect:` off: curl would otherwise wait up to a second for a `100 Continue` on every part.
    curl -sS -X PUT -H 'Expect:' --upload-file "$file" -D "$file.headers" -o "$file.body" \
      -w '%{http_code}' --connect-timeout 20 --speed-limit 1024 --speed-time 60 -K - >"$file.code" <<<"$config" &
    curl_pid=$!
    wait "$curl_pid" || rc=$?
    curl_pid=
    IFS= read -r code <"$file.code" || true
    [[ $rc == 0 && $code == 200 ]] && break
    if [[ $code == 4* && $code != 408 && $code != 429 ]]; then
      die 6 "the store refused part $n: HTTP $code$(s3_error "$file.body")."
    fi
    if ((attempt == 5)); then
      die 6 "part $n could not be uploaded after 5 attempts (HTTP $code, curl exit $rc)."
    fi
    say "part $n: upload failed (HTTP $code, curl exit $rc), attempt $attempt of 5, retrying."
    sleep $((attempt * attempt))
  done
  read_header etag "$file.headers"
  etag=${header//\"/}
  etag=${etag,,}
  if [[ $etag != "$md5" ]]; then
    die 3 "part $n: the store answered ETag '${etag}' but the part's MD5 is '$md5'."
  fi
  rm -f -- "$file" "$file.headers" "$file.body" "$file.code"
  clock_elapsed
  say "part $n stored: $size bytes, $sofar bytes so far, ${elapsed} s"
}

# Reaps finished uploads; with `block`, also waits for the oldest one. Stops the script on a failure.
reap() {
  local i pid rc keep_pids=() keep_parts=() block=${1:-}
  for i in "${!upload_pids[@]}"; do
    pid=${upload_pids[$i]}
    if [[ $block == block ]] || ! kill -0 "$pid" 2>/dev/null; then
      block=
      rc=0
      wait "$pid" || rc=$?
      ((rc == 0)) || exit "$rc" # upload_part said why
    else
      keep_pids+=("$pid")
      keep_parts+=("${upload_parts[$i]}")
    fi
  done
  upload_pids=("${keep_pids[@]}")
  upload_parts=("${keep_parts[@]}")
}

# ---- the stream ------------------------------------------------------------------
# tar's member list goes (through fd 5) to `wc -l`: the entry count, without a second pass.
produce() {
  local status
  set +e
  { tar -C "$data_dir" --numeric-owner --index-file=/dev/fd/5 -cvf - -- "${paths[@]}" 5>&1 >&4 \
    | wc -l >"$scratch/entries"; } 4>&1 \
    | "${compress[@]}"
  status=("${PIPESTATUS[@]}")
  echo "${status[*]}" >"$scratch/produce.status"
}

# The next part of the stream (fd 3) into a file. dd with 1 MiB blocks when the part size allows:
# head -c copies in 8 KiB steps, which costs more CPU than anything here but zstd and the hashes.
if ((part_bytes % 1048576 == 0)); then
  read_part() { dd bs=1048576 count=$((part_bytes / 1048576)) iflag=fullblock status=none of="$1" <&3; }
else
  read_part() { head -c "$part_bytes" <&3 >"$1"; }
fi

clock_ms
start_ms=$ms_now
mkfifo "$scratch/sha.fifo" "$scratch/data.fifo"
produce >"$scratch/data.fifo" &
producer_pid=$!
exec 3<"$scratch/data.fifo"
# The SHA-256 is fed each part's file, in order: the hash of exactly what was uploaded, and one
# copy less than a tee in the stream.
sha256_hex <"$scratch/sha.fifo" >"$scratch/sha256" &
hash_pid=$!
exec 4>"$scratch/sha.fifo"

parts=0
total=0
while :; do
  n=$((parts + 1))
  file="$scratch/part.$n"
  read_part "$file" || die 1 "reading the archive stream into $file failed."
  size=$(stat -c %s -- "$file")
  if ((size == 0)); then
    rm -f -- "$file"
    break
  fi
  if ((n > max_parts)); then
    die 4 "the data is more than $max_parts parts of $part_bytes bytes: $((total + size)) compressed bytes so far, the limit is $((max_parts * part_bytes)) bytes."
  fi
  cat -- "$file" >&4 || die 1 'computing the SHA-256 failed.'
  total=$((total + size))
  parts=$n
  reap
  while ((${#upload_pids[@]} >= in_flight)); do reap block; done
  upload_part "$n" "$file" "$size" "$total" 3<&- 4>&- &
  upload_pids+=($!)
  upload_parts+=("$n")
done
exec 4>&-
while ((${#upload_pids[@]} > 0)); do reap block; done

rc=0
wait "$producer_pid" || rc=$?
producer_pid=
((rc == 0)) || die 1 "the archive stream failed (exit $rc)."
read -r tar_rc compress_rc <"$scratch/produce.status"
# A stage that dies takes the one before it along (SIGPIPE, 141): name the one that failed first.
if ((tar_rc == 141 && compress_rc != 0)); then die 1 "${compress[0]} failed (exit $compress_rc)."; fi
((tar_rc == 0)) || die 1 "tar failed (exit $tar_rc): see its messages above."
((compress_rc == 0)) || die 1 "${compress[0]} failed (exit $compress_rc)."
rc=0
wait "$hash_pid" || rc=$?
hash_pid=
((rc == 0)) || die 1 "computing the SHA-256 failed (exit $rc)."
sha=$(cat "$scratch/sha256")
[[ $sha =~ ^[0-9a-f]{64}$ ]] || die 1 "computing the SHA-256 failed (got '$sha')."
entries=$(tr -d ' ' <"$scratch/entries")

clock_elapsed
say "saved $total bytes in $parts parts ($compression, $entries entries) in ${elapsed} s"
echo "dormouse-save v1 bytes=$total sha256=$sha parts=$parts compression=$compression entries=$entries"
