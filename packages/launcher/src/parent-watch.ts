/**
 * Notices that the process which started the launcher has exited. `npm start` passes its
 * SIGINT/SIGTERM on to the launcher (it is exec'd, so no shell stands in between), but when
 * npm itself dies without passing anything on (SIGKILL, an OOM kill) the launcher would run
 * on as an orphan, holding the lock and every port. Polling is enough: this is about
 * seconds, and Node offers no parent-death signal.
 */
export function watchParent(onGone: () => void, intervalMs = 250): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    // A process whose parent exits is re-parented (to init or a subreaper): ppid changes.
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, intervalMs);
  // Never the reason the launcher stays up: its children are.
  timer.unref();
  return () => clearInterval(timer);
}
