#!/usr/bin/env bun
/**
 * The client of bench/ws-floor.ts: opens argv[3] WebSockets to
 * 127.0.0.1:argv[2] (at most 200 handshakes in flight), sends one small
 * message on each, as an agent sends its register, prints {"open":N} once
 * all are open, and holds them until its stdin ends.
 */
const port = Number(process.argv[2]);
const total = Number(process.argv[3]);
const sockets: WebSocket[] = [];
let open = 0;
for (let i = 0; i < total; i++) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
  ws.onopen = () => {
    open++;
    ws.send(JSON.stringify({ type: "register", hostname: `h${i}` }));
  };
  sockets.push(ws);
  while (i + 1 - open > 200) await Bun.sleep(2);
}
while (open < total) await Bun.sleep(10);
console.log(JSON.stringify({ open }));
for await (const _ of console) {
  // hold the connections until stdin ends
}
process.exit(0);
