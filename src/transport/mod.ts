/**
 * The peer transport (`PeerTransport`: one long-lived HTTP/2 stream per peer by default), its
 * server side (`createPeerHandler`, `servePeer`), the wire codec, and the in-memory twin for
 * tests (`MemoryNetwork`).
 *
 * @example
 * ```ts
 * import { MemoryNetwork } from "./mod.ts";
 * const net = new MemoryNetwork();
 * const t = net.attach(1, { onMessages: () => {}, onUnreachable: () => {} });
 * await t.close();
 * ```
 *
 * @module
 */

export type { Message, NodeId } from "../raft/types.ts";
export * from "./transport.ts";
export * from "./codec.ts";
export { createPeerHandler, DEFAULT_MAX_BODY_BYTES, servePeer } from "./peer_server.ts";
export type { PeerHandlerOptions, ServePeerOptions } from "./peer_server.ts";
export {
  type PeerLinkStats,
  type PeerProtocol,
  PeerTransport,
  type PeerTransportOptions,
} from "./peer_transport.ts";
export { MemoryNetwork, MemoryTransport } from "./memory_transport.ts";
