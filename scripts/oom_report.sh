# Sourced by the launch scripts: run a training command and, if a process of it was killed by the kernel's
# out-of-memory killer, say so (mpirun and the shell only report "signal 9" or "Killed").
run_and_report_oom() {
  local before=0 status=0 found=""
  before=$(dmesg 2>/dev/null | wc -l) || before=0
  "$@" || status=$?
  if [[ $status -ne 0 ]]; then
    found=$(dmesg 2>/dev/null | tail -n +"$((before + 1))" | grep -iE "out of memory: killed process|oom-kill" | tail -3)
    if [[ -n "$found" ]]; then
      echo "error: the kernel's out-of-memory killer stopped the training (dmesg: ${found//$'\n'/; }). Lower" \
           "data.max_frames_per_batch (the dry run, -- --dry-run, says what fits) or run fewer ranks per server," \
           "then resume with -o train.resume=auto" >&2
    elif [[ $status -eq 137 ]]; then
      echo "error: a training process was killed (SIGKILL, exit 137): most often the kernel's out-of-memory killer" \
           "(dmesg was not readable to confirm). Lower data.max_frames_per_batch, then resume with" \
           "-o train.resume=auto" >&2
    fi
  fi
  return $status
}
