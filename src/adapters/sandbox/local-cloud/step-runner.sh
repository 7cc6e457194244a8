#!/usr/bin/env bash
# The sandbox's SSM agent for one command. The local cloud starts it detached
# (its own process group, no pipe to the bot), so the step goes on, and its
# result is written, even if the bot is killed or paused meanwhile.
#
# Usage: step-runner.sh <command prefix> <timeout seconds> [<delay seconds>]
# Runs in the server's data directory, with the step's environment only.
#
#   <prefix>.sh           the step's script, as SSM would receive it (read)
#   <prefix>.runner       this runner's pid (its process group), written first
#   <prefix>.pid          the step's pid (its own process group)
#   <prefix>.stdout       the step's standard output, as it runs
#   <prefix>.stderr       the step's standard error, as it runs
#   <prefix>.result.json  written once, when the step ends:
#                         {"exitCode":<n>,"timedOut":false,"durationMs":<n>} or
#                         {"timedOut":true,"durationMs":<n>}
#
# The delay is the sandbox's slow-step fault: it counts against the timeout,
# as a slow step on a real server would.
set -u
# Job control: each background job below gets its own process group, so the
# step and everything it started can be ended together.
set -m

prefix=$1
timeout_seconds=$2
delay_seconds=${3:-0}

now_ms() {
  if [ -n "${EPOCHREALTIME:-}" ]; then
    local micros=${EPOCHREALTIME/[.,]/}
    echo $((10#$micros / 1000))
  else
    echo $(($(date +%s) * 1000))
  fi
}

echo "$$" >"$prefix.runner"
started=$(now_ms)

(
  if [ "$delay_seconds" != 0 ]; then sleep "$delay_seconds"; fi
  exec bash "$prefix.sh"
) >"$prefix.stdout" 2>"$prefix.stderr" </dev/null &
step=$!
echo "$step" >"$prefix.pid"

# The watchdog marks the timeout before it strikes, so the end below can tell a
# kill on timeout from a step that ended on its own a moment before.
(
  sleep "$timeout_seconds"
  : >"$prefix.timedout"
  kill -KILL -- "-$step"
) >/dev/null 2>&1 &
watchdog=$!

wait "$step"
code=$?
ended=$(now_ms)
# Whatever the step left running in its group (background jobs) ends with it.
kill -KILL -- "-$step" "-$watchdog" 2>/dev/null

duration=$((ended - started))
if [ -e "$prefix.timedout" ] && [ "$code" -ge 128 ]; then
  result=$(printf '{"timedOut":true,"durationMs":%d}' "$duration")
else
  result=$(printf '{"exitCode":%d,"timedOut":false,"durationMs":%d}' "$code" "$duration")
fi

# Written aside, then linked into place: a reader never sees half a file, and
# a result the bot recorded first (it gave up on this runner) is not replaced.
tmp="$prefix.result.$$.tmp"
printf '%s\n' "$result" >"$tmp" && ln "$tmp" "$prefix.result.json" 2>/dev/null
rm -f "$tmp"
