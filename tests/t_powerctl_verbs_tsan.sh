#!/bin/bash
# powerctl's verbs again, with the ThreadSanitizer build: the tap's streams
# suspended and resumed across the uploader and MHD threads, set-energy's and
# capture's hand-overs to the meter thread, reload's to the supervisor.
VARIANT=tsan exec "$(dirname "$0")/t_powerctl_verbs.sh" "$@"
