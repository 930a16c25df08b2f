/**
 * The launcher's own output is best effort. When its reader has gone (`npm start | head`
 * after head exited, a closed terminal), a write fails with EPIPE (or EIO), and that error,
 * unhandled, would end the launcher on the spot and leave every child running with the lock
 * held. Ignored, the launcher keeps supervising and still stops everything on a signal.
 */
export function tolerateClosedOutput(streams: NodeJS.WriteStream[] = [process.stdout, process.stderr]): void {
  for (const stream of streams) {
    stream.on('error', () => undefined);
  }
}
