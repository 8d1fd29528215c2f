#!/bin/bash
# Run one verified command as the run_as user: `sandbox.sh TIMEOUT_S < script`.
#
# Started by the request handler through sudo (the only thing its sudoers rule
# allows), so it runs as the target user: a fresh temporary working directory,
# a minimal environment, stdin from /dev/null. GNU timeout makes the command a
# process group of its own and kills the whole group after TIMEOUT_S (exit
# status 137); when the command ends, whatever it left running is killed too.
# The exit status is the command's. A bash script: it starts once per request,
# and a Python interpreter would cost more than everything else here.
set -u
timeout_s=$1
workdir=$(mktemp -d /tmp/mailsh-XXXXXXXXXX) || exit 125
trap 'rm -rf -- "$workdir"' EXIT
cat > "$workdir/.mailsh-command.sh"
cd "$workdir" || exit 125
user=${USER:-$(id -un)}
env -i PATH=/usr/local/bin:/usr/bin:/bin HOME="$HOME" USER="$user" LOGNAME="$user" \
    SHELL=/bin/bash LANG=C.UTF-8 TMPDIR="$workdir" PWD="$workdir" \
    timeout --signal=KILL "$timeout_s" /bin/bash --noprofile --norc .mailsh-command.sh \
    </dev/null &
group=$!
wait "$group"
status=$?
kill -KILL -- "-$group" 2>/dev/null
exit "$status"
