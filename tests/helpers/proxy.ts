/**
 * Network faults for end-to-end tests: a TCP proxy a test puts between two
 * processes, and a partitionable cluster of masters built on it.
 *
 * A proxy forwards one listening port to a target. `cut("forward")` stops
 * what clients send from reaching the target, `cut("back")` what the
 * target answers from reaching them, `cut("both")` both: bytes sent across
 * a cut are held, never delivered (a partition drops packets; TCP then
 * retransmits into the void), and new connections are accepted but hear
 * nothing. `heal()` resets the connections that lost bytes (what a long
 * partition ends with: a timeout or a reset) and forwards again.
 */
import type { Socket, TCPSocketListener } from "bun";

export type Direction = "forward" | "back" | "both";

interface Side {
  socket: Socket<Conn> | null;
  /** Bytes waiting to be written to this side (not accepted by the kernel yet, or held by a cut). */
  pending: Uint8Array[];
}

interface Conn {
  /** The client's connection, and the one to the target. */
  client: Side;
  target: Side;
  /** Bytes held across a cut on this connection (never delivered): heal() resets it. */
  held: number;
  id: number;
  closed: boolean;
}

/** Most bytes held on one connection; past it the connection is reset. */
const HELD_BYTES_MAX = 64 << 20;

export class TcpProxy {
  private readonly conns = new Set<Conn>();
  private forwardCut = false;
  private backCut = false;
  /** Sees every chunk that crosses, with its connection's number (a recording attacker on the path). */
  tap: ((dir: "forward" | "back", chunk: Uint8Array, conn: number) => void) | null = null;
  private connSeq = 0;
  private constructor(
    private readonly listener: TCPSocketListener<Conn>,
    readonly targetPort: number,
  ) {}

  static start(targetPort: number, targetHost = "127.0.0.1"): TcpProxy {
    let proxy: TcpProxy;
    const listener = Bun.listen<Conn>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(client) {
          const c: Conn = { client: { socket: client, pending: [] }, target: { socket: null, pending: [] }, held: 0, closed: false, id: ++proxy.connSeq };
          client.data = c;
          proxy.conns.add(c);
          void Bun.connect<Conn>({
            hostname: targetHost,
            port: targetPort,
            socket: {
              open(t) {
                t.data = c;
                if (c.closed) {
                  t.end();
                  return;
                }
                c.target.socket = t;
                proxy.flush(c, c.target);
              },
              data(_t, chunk) {
                proxy.relay(c, "back", chunk);
              },
              drain() {
                proxy.flush(c, c.target);
              },
              close() {
                proxy.close(c);
              },
              error() {
                proxy.close(c);
              },
            },
          }).catch(() => proxy.close(c));
        },
        data(client, chunk) {
          proxy.relay(client.data, "forward", chunk);
        },
        drain(client) {
          proxy.flush(client.data, client.data.client);
        },
        close(client) {
          proxy.close(client.data);
        },
        error(client) {
          proxy.close(client.data);
        },
      },
    });
    proxy = new TcpProxy(listener, targetPort);
    return proxy;
  }

  get port(): number {
    return this.listener.port;
  }

  /** Stop delivering in `dir` (new connections too) until heal(). */
  cut(dir: Direction): void {
    if (dir !== "back") this.forwardCut = true;
    if (dir !== "forward") this.backCut = true;
  }

  /** Forward again; connections that lost bytes to a cut are reset. */
  heal(): void {
    this.forwardCut = false;
    this.backCut = false;
    for (const c of [...this.conns]) {
      if (c.held > 0) this.close(c);
    }
  }

  stop(): void {
    for (const c of [...this.conns]) this.close(c);
    this.listener.stop(true);
  }

  private relay(c: Conn, dir: "forward" | "back", chunk: Uint8Array): void {
    if (c.closed) return;
    this.tap?.(dir, new Uint8Array(chunk), c.id);
    const to = dir === "forward" ? c.target : c.client;
    if (dir === "forward" ? this.forwardCut : this.backCut) {
      // Held, never delivered: the connection is now out of step and is reset at heal().
      c.held += chunk.byteLength;
      if (c.held > HELD_BYTES_MAX) this.close(c);
      return;
    }
    to.pending.push(new Uint8Array(chunk));
    this.flush(c, to);
  }

  private flush(c: Conn, side: Side): void {
    const s = side.socket;
    if (!s || c.closed) return;
    while (side.pending.length > 0) {
      const buf = side.pending[0]!;
      const n = s.write(buf);
      if (n < buf.byteLength) {
        side.pending[0] = buf.subarray(Math.max(0, n));
        return; // drain() calls again
      }
      side.pending.shift();
    }
  }

  private close(c: Conn): void {
    if (c.closed) return;
    c.closed = true;
    this.conns.delete(c);
    if (c.held > 0) {
      // A reset, not a FIN: after lost bytes, the far end must not take what it got for a whole request.
      c.client.socket?.terminate();
      c.target.socket?.terminate();
    } else {
      c.client.socket?.end();
      c.target.socket?.end();
    }
  }
}

/**
 * Masters that reach each other only through proxies, one per ordered
 * pair (master i's LAVA_RAFT_PEERS names master j at the proxy i→j), so
 * that a test can partition them: cut one way, isolate one, heal. Clients
 * of the test still reach every master directly.
 */
export class MasterLinks {
  private constructor(
    /** via[i][j]: how master i+1 reaches master j+1 (null on the diagonal). */
    private readonly via: (TcpProxy | null)[][],
  ) {}

  /** Proxies for `n` masters whose HTTP ports will be `ports`; `peersOf(i)` is master i's LAVA_RAFT_PEERS. */
  static create(ports: { http: number }[]): { links: MasterLinks; peersOf: (i: number) => string } {
    const via = ports.map((_, i) => ports.map((p, j) => (i === j ? null : TcpProxy.start(p.http))));
    const peersOf = (i: number) => ports.map((p, j) => `${j + 1}=127.0.0.1:${i === j ? p.http : via[i]![j]!.port}`).join(",");
    return { links: new MasterLinks(via), peersOf };
  }

  /** The proxy master `from` reaches master `to` through. */
  proxy(from: number, to: number): TcpProxy {
    return this.via[from - 1]![to - 1]!;
  }

  /** Nothing master `from` sends reaches master `to`: neither its requests nor its answers to `to`'s requests. */
  cut(from: number, to: number): void {
    this.proxy(from, to).cut("forward");
    this.proxy(to, from).cut("back");
  }

  /** Master `id` can neither reach nor be reached by any other master. */
  isolate(id: number): void {
    for (let j = 1; j <= this.via.length; j++) {
      if (j === id) continue;
      this.cut(id, j);
      this.cut(j, id);
    }
  }

  heal(): void {
    for (const row of this.via) for (const p of row) p?.heal();
  }

  stop(): void {
    for (const row of this.via) for (const p of row) p?.stop();
  }
}
