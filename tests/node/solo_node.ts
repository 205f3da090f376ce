/**
 * A one-voter `RaftNode` on the in-memory twins (storage, network, logger), for tests of the
 * node's own logic: it elects itself at once and commits alone.
 *
 * @module
 */

import { memoryLogger } from "../../src/node/logger.ts";
import { RaftNode, type RaftNodeOptions } from "../../src/node/raft_node.ts";
import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { MemoryNetwork } from "../../src/transport/memory_transport.ts";

/**
 * Starts node 1 alone, with `options` over the defaults (a fresh `MemoryStorage`, a memory
 * logger).
 *
 * @example
 * ```ts ignore
 * import { startSoloNode } from "./solo_node.ts";
 * const node = await startSoloNode({ tickMs: 5 });
 * await node.stop();
 * ```
 */
export function startSoloNode(
  options: Partial<Omit<RaftNodeOptions, "id" | "peers" | "transport">> = {},
): Promise<RaftNode> {
  const net = new MemoryNetwork();
  return RaftNode.start({
    id: 1,
    peers: new Map([[1, "mem://1"]]),
    storage: new MemoryStorage(),
    transport: (events) => net.attach(1, events),
    logger: memoryLogger(),
    ...options,
  });
}
