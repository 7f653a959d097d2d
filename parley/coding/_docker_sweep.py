"""The shell that runs inside a sandbox container around each block, and the kill that ends a block's processes.

Containment in a Docker sandbox does not rely on process groups, sessions or the environment:
after a block (or on a timeout) a shell walks ``/proc`` and kills every process but the
container's own. The scripts here are that shell; `parley.coding._docker.Container` runs them
with ``docker exec`` (`WRAPPER` around each block, `SWEEP_FUNCTIONS` for ``Container.kill_all``,
`OOM_SCRIPT` for ``Container.oom_kills``).
"""

from __future__ import annotations

__all__ = ["OOM_SCRIPT", "SWEEP_FUNCTIONS", "WRAPPER"]

# Shell functions shared by the wrapper and the kill. They use builtins only (read, kill, case,
# globbing): no fork, so they work in a container whose pids limit is reached.
# - parley_keepalive sets $keep to the container's keepalive (`sleep infinity`): PID 1's oldest
#   child, first in /proc/1/task/1/children (else the lowest pid whose parent is PID 1).
# - parley_sweep SIGKILLs every process but PID 1, the keepalive, this shell and the pids in $1,
#   as the calling user (processes of other users are out of reach and left alone). Zombies are
#   skipped. It passes over /proc until a pass finds no process it had not killed yet, since a
#   process may fork while its parent is being killed; it fails after 50 passes.
SWEEP_FUNCTIONS = r"""
parley_keepalive() {
  keep=
  { read -r keep _ < /proc/1/task/1/children; } 2>/dev/null
  [ -n "$keep" ] && return 0
  for d in /proc/[0-9]*; do
    { read -r s < "$d/stat"; } 2>/dev/null || continue
    s=${s##*) }
    set -- $s
    if [ "$2" = 1 ] && { [ -z "$keep" ] || [ "${d#/proc/}" -lt "$keep" ]; }; then keep=${d#/proc/}; fi
  done
}
parley_sweep() {
  parley_keepalive
  spare=" 1 $keep $$ $1 "
  killed=" "
  n=0
  while [ "$n" -lt 50 ]; do
    n=$((n + 1))
    new=
    for d in /proc/[0-9]*; do
      p=${d#/proc/}
      case "$spare" in *" $p "*) continue ;; esac
      { read -r s < "$d/stat"; } 2>/dev/null || continue
      s=${s##*) }
      case "$s" in Z*|X*) continue ;; esac
      kill -9 "$p" 2>/dev/null || continue
      case "$killed" in *" $p "*) ;; *) killed="$killed$p " new=1 ;; esac
    done
    [ -z "$new" ] && return 0
  done
  return 1
}
"""

WRAPPER = (
    SWEEP_FUNCTIONS
    + r"""
mode=$1 token=$2
shift 2
if [ "$mode" = keep ]; then
  pids=
  for d in /proc/[0-9]*; do [ "${d#/proc/}" = "$$" ] || pids="$pids ${d#/proc/}"; done
  { echo "$pids" > "/tmp/.parley-run-$token"; } 2>/dev/null
fi
"$@" < /dev/null
code=$?
if [ "$mode" = keep ]; then rm -f "/tmp/.parley-run-$token" 2>/dev/null; else parley_sweep ""; fi
exit "$code"
"""
)
"""Runs one block: ``sh -c WRAPPER sh <mode> <token> <command...>``.

With mode ``sweep`` (the default), when the command ends, every process in the container but
the container's own (PID 1, the keepalive) is killed: whatever the block left in the background,
however it detached (``setsid``, double forks, a cleared environment). The executor runs one
block at a time per container, so nothing else of ours runs there meanwhile. With mode ``keep``
background processes are left running; the pids that existed before the block are saved in
``/tmp/.parley-run-<token>``, so a kill after a timeout (`Container.kill_all`) spares them. The
wrapper costs one ``sh`` start (about a millisecond) and no extra ``docker exec``.
"""
# The container's count of OOM kills: cgroup v2 memory.events, else v1 memory.oom_control.
OOM_SCRIPT = "cat /sys/fs/cgroup/memory.events 2>/dev/null || cat /sys/fs/cgroup/memory/memory.oom_control 2>/dev/null"
