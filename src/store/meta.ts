/**
 * The `meta` table: one key/value row per fact about the state machine and
 * this node's Raft log. The table is defined once (schema.ts); the state
 * machine reaches it through Drizzle's prepared statements (prepared.ts),
 * the Raft storage and snapshot checks through bun:sqlite directly (one
 * statement per Ready on the hot path, or another database file), with SQL
 * text built here from that one definition.
 */
import type { Database } from "bun:sqlite";
import { getTableName } from "drizzle-orm";
import type { BunSQLiteDatabase } from "drizzle-orm/bun-sqlite";
import { statements } from "./prepared.ts";
import { meta } from "./schema.ts";

/** Every key of `meta`. A snapshot carries all but the node-local ones (NODE_LOCAL_PREFIX). */
export const META = {
  /** State machine: the last entry applied. */
  lastApplied: "lastApplied",
  /** State machine: voters and their addresses (written when a conf entry is applied). */
  members: "members",
  nextHostId: "nextHostId",
  nextJobId: "nextJobId",
  nextApprovalId: "nextApprovalId",
  /** This node's hard state (node-local). */
  raftTerm: "raft.term",
  raftVote: "raft.vote",
  raftCommit: "raft.commit",
  /** Where this node's log starts (node-local). */
  raftSnapIndex: "raft.snapIndex",
  raftSnapTerm: "raft.snapTerm",
} as const;
export type MetaKey = (typeof META)[keyof typeof META];

/** Keys that belong to one node, never to the replicated state: a snapshot leaves them alone. */
export const NODE_LOCAL_PREFIX = "raft.";

const T = getTableName(meta);
const K = meta.key.name;
const V = meta.value.name;
/** One value by key (bun:sqlite; `?` is the key). */
export const META_SELECT_SQL = `SELECT ${V} AS value FROM ${T} WHERE ${K} = ?`;
/** Sets one value (bun:sqlite; `?, ?` are the key and the value). */
export const META_UPSERT_SQL = `INSERT INTO ${T}(${K}, ${V}) VALUES (?, ?) ON CONFLICT(${K}) DO UPDATE SET ${V} = excluded.${V}`;
/** The table's name, for statements across attached databases (a snapshot install). */
export const META_TABLE = T;
export const META_KEY_COLUMN = K;

/** A value read straight from a bun:sqlite database (this one's, a snapshot copy's). */
export function readMeta(db: Database, key: MetaKey): string | undefined {
  return db.query<{ value: string }, [string]>(META_SELECT_SQL).get(key)?.value;
}

/** Inside the state machine's transaction (the caller holds it). */
export function getMeta(tx: BunSQLiteDatabase, key: MetaKey): string | undefined {
  return statements(tx).getMeta.get({ key })?.value;
}

export function setMeta(tx: BunSQLiteDatabase, key: MetaKey, value: string | number): void {
  statements(tx).setMeta.run({ key, value: String(value) });
}
