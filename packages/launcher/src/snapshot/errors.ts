/** A snapshot that could not be taken or restored as asked; the message says why and what to do. */
export class SnapshotError extends Error {
  override name = 'SnapshotError';
}
