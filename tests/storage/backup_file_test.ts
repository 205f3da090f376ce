/** The backup file refuses what is not a whole, unaltered backup, with one line saying why. */

import assert from "node:assert/strict";
import {
  BackupFileError,
  decodeBackup,
  encodeBackup,
  sha256Hex,
} from "../../src/storage/backup_file.ts";

const backup = {
  clusterId: "c1",
  index: 42,
  term: 3,
  conf: { voters: [1, 2, 3], learners: [4] },
  data: new Uint8Array(1000).map((_, i) => i % 251),
};

Deno.test("backup file: what is written is read back", async () => {
  const read = await decodeBackup(await encodeBackup(backup));
  assert.deepEqual({ ...read, data: [...read.data] }, {
    ...backup,
    data: [...backup.data],
    sha256: await sha256Hex(backup.data), // the checksum it checked, handed on
  });
});

Deno.test("backup file: truncated, corrupt or foreign files are refused in one line", async () => {
  const bytes = await encodeBackup(backup);
  const refused = async (b: Uint8Array, pattern: RegExp) => {
    await assert.rejects(
      decodeBackup(b),
      (e) => e instanceof BackupFileError && pattern.test(e.message) && !e.message.includes("\n"),
    );
  };
  await refused(bytes.subarray(0, bytes.length - 10), /truncated: .*1000 bytes.*990/);
  await refused(bytes.subarray(0, 30), /truncated or corrupt/);
  await refused(new TextEncoder().encode("hello world, not a backup"), /not an edgeraft backup/);
  const flipped = bytes.slice();
  flipped[flipped.length - 1] ^= 1;
  await refused(flipped, /SHA-256/);
  const longer = new Uint8Array(bytes.length + 1);
  longer.set(bytes);
  await refused(longer, /1 bytes follow/);
});
