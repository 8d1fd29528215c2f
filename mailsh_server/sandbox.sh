#!/bin/bash
# Run one verified command as the run_as user:
#   sandbox.sh TIMEOUT_S PROCESSES MEMORY_KB FILE_KB CPU_S < script
#
# Started by the request handler through sudo (the only thing its sudoers rule
# allows), so it runs as the target user: a fresh temporary working directory,
# a minimal environment, stdin from /dev/null. GNU timeout makes the command a
# process group of its own and kills the whole group after TIMEOUT_S (exit
# status 137); when the command ends, whatever it left running is killed too.
# ulimits (soft and hard: the command cannot raise them) bound the processes of
# the user, the address space, the size of any file written and the CPU time.
# The exit status is the command's. A bash script: it starts once per request,
# and a Python interpreter would cost more than everything else here.
set -u
timeout_s=$1 processes=$2 memory_kb=$3 file_kb=$4 cpu_s=$5
workdir=$(mktemp -d /tmp/mailsh-XXXXXXXXXX) || exit 125
trap 'rm -rf -- "$workdir"' EXIT
cat > "$workdir/.mailsh-command.sh"
cd "$workdir" || exit 125
user=${USER:-$(id -un)}
ulimit -u "$processes" -v "$memory_kb" -f "$((file_kb))" -t "$cpu_s" -c 0 || exit 125
env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME" USER="$user" LOGNAME="$user" \
    SHELL=/bin/bash LANG=C.UTF-8 TMPDIR="$workdir" PWD="$workdir" \
    timeout --signal=KILL "$timeout_s" /bin/bash --noprofile --norc .mailsh-command.sh \
    </dev/null &
group=$!
wait "$group"
status=$?
kill -KILL -- "-$group" 2>/dev/null
exit "$status"
