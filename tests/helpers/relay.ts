/**
 * A control-channel relay with a UDP firewall, for tests of the report
 * transport: agents connect to the relay's /ws, which relays every message
 * to and from the master's /ws and rewrites `registered.udpPort` to the
 * relay's own UDP socket. That socket drops every datagram (a firewall that
 * DROPs, no ICMP) until `udpOpen = true`, then forwards them to the master's
 * UDP port. Reports carry AUTH, so the master takes them from any source.
 * `register.reportPort` is rewritten to a sink too: the master's announces
 * would otherwise show the agent the master's real UDP address, around the
 * firewall (a real firewall in front of the master blocks that one too).
 */
import type { Server, ServerWebSocket, udp } from "bun";

export interface Relay {
  addr: string;
  /** Datagrams pass to the master while true; dropped silently while false. */
  udpOpen: boolean;
  dropped: number;
  forwarded: number;
  stop(): void;
}

interface Link {
  upstream: WebSocket;
  queue: string[];
}

export async function startRelay(master: { addr: string; udpPort: number }): Promise<Relay> {
  const socket: udp.Socket<"buffer"> = await Bun.udpSocket({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(s, buf) {
        if (!relay.udpOpen) {
          relay.dropped++;
          return;
        }
        relay.forwarded++;
        s.send(buf, master.udpPort, "127.0.0.1");
      },
    },
  });
  const sink: udp.Socket<"buffer"> = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const server: Server<Link> = Bun.serve<Link>({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname !== "/ws") return new Response("relay: /ws only", { status: 404 });
      const headers: Record<string, string> = {};
      const auth = req.headers.get("authorization");
      if (auth) headers.authorization = auth;
      const upstream = new WebSocket(`ws://${master.addr}/ws${url.search}`, { headers } as unknown as string[]);
      const link: Link = { upstream, queue: [] };
      if (srv.upgrade(req, { data: link })) return undefined;
      upstream.close();
      return new Response("upgrade failed", { status: 400 });
    },
    websocket: {
      open(ws: ServerWebSocket<Link>) {
        const up = ws.data.upstream;
        up.onopen = () => {
          for (const m of ws.data.queue.splice(0)) up.send(m);
        };
        up.onmessage = (e) => {
          let text = String(e.data);
          const m = JSON.parse(text) as Record<string, unknown>;
          if (m.type === "registered") text = JSON.stringify({ ...m, udpPort: socket.port });
          ws.send(text);
        };
        up.onclose = (e) => ws.close(e.code === 1005 || e.code === 1006 ? 1000 : e.code, e.reason);
      },
      message(ws: ServerWebSocket<Link>, msg) {
        const up = ws.data.upstream;
        let text = String(msg);
        const m = JSON.parse(text) as Record<string, unknown>;
        if (m.type === "register") text = JSON.stringify({ ...m, reportPort: sink.port });
        if (up.readyState === WebSocket.OPEN) up.send(text);
        else ws.data.queue.push(text);
      },
      close(ws: ServerWebSocket<Link>) {
        ws.data.upstream.close();
      },
    },
  });
  const relay: Relay = {
    addr: `127.0.0.1:${server.port}`,
    udpOpen: false,
    dropped: 0,
    forwarded: 0,
    stop() {
      server.stop(true);
      socket.close();
      sink.close();
    },
  };
  return relay;
}
