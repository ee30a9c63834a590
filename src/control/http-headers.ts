/** HTTP headers of the API that both the master and `lava ctl` name (docs/api.md "Retries"). */

/** A write's client-generated id: retries carry the same one, and the master applies it once. */
export const REQUEST_ID_HEADER = "x-lava-request-id";
/** Set on an answer that repeats the first outcome of a request id (the log index that applied it). */
export const REPLAYED_HEADER = "x-lava-request-replayed";
