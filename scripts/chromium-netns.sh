#!/bin/sh
# Chromium in its own empty network namespace (lib/eval/render.ts passes this file to playwright as
# the browser executable). `unshare -n` (root) or `unshare -rn` (user namespace first) execs the
# real Chromium in place: same pid, same pipes, so playwright's --remote-debugging-pipe still
# works; inside there is only a loopback interface that is down, so no socket call can reach
# anything outside. The variables are set by render.ts for this launch only.
exec "${RARLHF_NETNS_UNSHARE:?}" ${RARLHF_NETNS_FLAGS:?} -- "${RARLHF_NETNS_CHROMIUM:?}" "$@"
