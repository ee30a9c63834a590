/**
 * Crash safety of durable state: a loop of state changes while the master
 * is killed with SIGKILL at random points (seeded), then restarted. Every
 * acknowledged change must be present afterwards, and none applied twice.
 */
import { afterAll, expect, test } from "bun:test";
import { TestMaster } from "../helpers/cluster.ts";
import { seededRng } from "../helpers/rng.ts";
import { teardown } from "../helpers/teardown.ts";

const KILLS = 24;
const WRITERS = 8;
const SEED = Number(process.env.LAVA_CRASH_SEED ?? 0x5eed);

let master: TestMaster | undefined;
afterAll(() => teardown({ masters: [master] }));

test(`every acknowledged change survives ${KILLS} SIGKILLs, none applied twice (seed ${SEED})`, async () => {
  const rng = seededRng(SEED);
  master = await TestMaster.start();
  const m = master;
  const acked = new Set<string>();
  let attempted = 0;

  for (let cycle = 0; cycle < KILLS; cycle++) {
    if (cycle > 0) await m.restart();
    const token = m.adminToken;
    let stop = false;
    const writer = async (w: number) => {
      for (let i = 0; !stop; i++) {
        const subject = `c${cycle}-w${w}-${i}`;
        attempted++;
        try {
          const res = await fetch(`http://${m.addr}/api/v1/tokens`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}` },
            body: JSON.stringify({ role: "read", subject }),
          });
          if (res.status === 201) acked.add(subject);
          else return;
        } catch {
          return; // the master died under us: this write is unacknowledged
        }
      }
    };
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w));
    await Bun.sleep(20 + Math.floor(rng() * 200)); // the kill point
    await m.proc.kill9();
    stop = true;
    await Promise.all(writers);
  }

  await m.restart();
  const tokens = (await m.api<{ subject: string }[]>("/api/v1/tokens")).body;
  const count = new Map<string, number>();
  for (const t of tokens) count.set(t.subject, (count.get(t.subject) ?? 0) + 1);
  const missing = [...acked].filter((s) => !count.has(s));
  const twice = [...count].filter(([, n]) => n > 1);
  expect(missing).toEqual([]);
  expect(twice).toEqual([]);

  type Row = { id: number; logIdx: number; action: string; detail: string | null };
  // Page through the whole audit log: a fast machine acknowledges more than one page of writes.
  const audit: Row[] = [];
  for (let after = 0; ; ) {
    const page = (await m.api<Row[]>(`/api/v1/audit?limit=10000&action=token.create&after=${after}`)).body;
    audit.push(...page);
    if (page.length < 10_000) break;
    after = page[page.length - 1]!.id;
  }
  const bySubject = new Map<string, number>();
  for (const a of audit) {
    const subject = JSON.parse(a.detail ?? "{}").subject as string;
    bySubject.set(subject, (bySubject.get(subject) ?? 0) + 1);
  }
  expect([...acked].filter((s) => bySubject.get(s) !== 1)).toEqual([]);
  expect(new Set(audit.map((a) => a.logIdx)).size).toBe(audit.length);
  // The loop really wrote under fire: many acknowledged, and kills cut some writes off.
  expect(acked.size).toBeGreaterThan(KILLS * 5);
  expect(attempted).toBeGreaterThan(acked.size);
}, 120_000);
