import { MemoryStorage } from "../../src/storage/memory_storage.ts";
import { defineStorageSuite } from "./storage_suite.ts";

defineStorageSuite("MemoryStorage", () => {
  // A reopen of memory is the same instance: what resolved calls stored is all there is.
  const storage = new MemoryStorage();
  return Promise.resolve({
    storage,
    reopen: () => Promise.resolve(storage),
    dispose: () => Promise.resolve(storage.close()),
  });
});
