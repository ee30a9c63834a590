/**
 * Worker thread: copies the database into a snapshot file (VACUUM INTO on a
 * connection of its own), so that a large copy never stalls the master's
 * event loop — heartbeats keep going out while it runs. WAL mode lets this
 * reader see one consistent state while the master keeps writing. Answers
 * with the copy's lastApplied and membership, read from the copy itself.
 * scripts/build.ts compiles this file as an entry point of its own.
 */
import { copyDatabase, type CopyRequest } from "./snapshot-copy.ts";

declare const self: Worker;

self.onmessage = (e: MessageEvent<CopyRequest>) => {
  postMessage(copyDatabase(e.data));
};
