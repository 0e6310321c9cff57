/**
 * A loopback TCP proxy for fault tests: it sits between a store and its server on 127.0.0.1 and can be switched,
 * while connections are open, to pass bytes at once, delay them, stall (hold them back, as a network partition does,
 * until the proxy passes again), stall the replies only, or reset every open connection.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export type ProxyMode = "pass" | "delay" | "stall" | "stall-replies";

/** One direction of one connection: chunks leave in the order they came, each no earlier than its due time. */
class Direction {
  /** Held regardless of the mode (see `FaultProxy.holdRepliesAfter`). */
  held = false;
  private readonly queue: Array<{ chunk: Buffer; due: number }> = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly proxy: FaultProxy,
    private readonly to: Socket,
    /** Whether this direction carries the server's replies (to the client). */
    private readonly replies: boolean,
  ) {}

  push(chunk: Buffer): void {
    this.queue.push({ chunk, due: Date.now() + (this.proxy.mode === "delay" ? this.proxy.delayMs : 0) });
    this.pump();
  }

  /** Forwards what is due; a stalled direction forwards nothing until the proxy passes again. */
  pump(): void {
    if (this.timer !== undefined) return;
    while (this.queue.length > 0 && !this.stalled()) {
      const head = this.queue[0] as { chunk: Buffer; due: number };
      const wait = head.due - Date.now();
      if (wait > 0) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.pump();
        }, wait);
        return;
      }
      this.queue.shift();
      if (!this.to.destroyed) this.to.write(head.chunk);
    }
  }

  private stalled(): boolean {
    return this.held || this.proxy.mode === "stall" || (this.proxy.mode === "stall-replies" && this.replies);
  }

  drop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
  }
}

/** A loopback TCP proxy to a port on 127.0.0.1 whose behaviour can be switched while connections are open. */
export class FaultProxy {
  /** How long each chunk waits in "delay" mode, in ms. */
  delayMs = 50;
  private current: ProxyMode = "pass";
  private readonly pairs = new Set<{ sockets: [Socket, Socket]; directions: [Direction, Direction] }>();
  private readonly server: Server;
  private accepted = 0;
  private replyTrigger: { match: (request: Buffer) => boolean; matched: () => void } | undefined;

  private constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      this.accepted++;
      const upstream = connect(this.targetPort, "127.0.0.1");
      const pair = { sockets: [client, upstream] as [Socket, Socket], directions: [new Direction(this, upstream, false), new Direction(this, client, true)] as [Direction, Direction] };
      this.pairs.add(pair);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        for (const direction of pair.directions) direction.drop();
        this.pairs.delete(pair);
      };
      client.on("error", drop).on("close", drop);
      upstream.on("error", drop).on("close", drop);
      client.on("data", (chunk: Buffer) => {
        pair.directions[0].push(chunk);
        const trigger = this.replyTrigger;
        if (trigger === undefined || !trigger.match(chunk)) return;
        this.replyTrigger = undefined;
        pair.directions[1].held = true;
        trigger.matched();
      });
      upstream.on("data", (chunk: Buffer) => pair.directions[1].push(chunk));
    });
  }

  /** Starts a proxy to `targetPort` on a free loopback port. */
  static async start(targetPort: number): Promise<{ proxy: FaultProxy; port: number }> {
    const proxy = new FaultProxy(targetPort);
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    const address = proxy.server.address();
    return { proxy, port: typeof address === "object" && address !== null ? address.port : 0 };
  }

  /**
   * "pass" forwards at once, "delay" each chunk after {@link delayMs}, "stall" nothing: connections stay open and
   * their bytes are held until the mode changes back, then delivered in order (a partition that heals).
   * "stall-replies" forwards requests but holds the server's replies: the server applies calls whose answers are
   * lost if the connections are then reset.
   */
  get mode(): ProxyMode {
    return this.current;
  }

  set mode(mode: ProxyMode) {
    this.current = mode;
    for (const pair of this.pairs) for (const direction of pair.directions) direction.pump();
  }

  /**
   * Forwards the next request chunk that `match` accepts, then holds every reply on its connection until the
   * connections are reset: the server applies that request, and its reply is lost. Resolves once it was forwarded.
   */
  holdRepliesAfter(match: (request: Buffer) => boolean): Promise<void> {
    return new Promise((matched) => {
      this.replyTrigger = { match, matched };
    });
  }

  /** Resets every open connection (RST), as a dying middlebox would; what they held is dropped. */
  resetAll(): void {
    for (const pair of this.pairs) {
      for (const direction of pair.directions) direction.drop();
      // Only an open socket is reset: one still connecting or already closing has nothing to reset, and Node's
      // resetAndDestroy of a socket whose both sides ended leaves a busy handle behind that keeps the process alive.
      for (const socket of pair.sockets) {
        if (socket.readyState === "open") socket.resetAndDestroy();
        else socket.destroy();
      }
    }
    this.pairs.clear();
  }

  /** Connections open now. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Connections accepted since the start. */
  get connectionsAccepted(): number {
    return this.accepted;
  }

  async close(): Promise<void> {
    this.resetAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
