/**
 * Throwaway TLS certificates for tests, made with `openssl`: a CA and one certificate for
 * 127.0.0.1 signed by it (rustls refuses a self-signed certificate that is its own CA as a
 * server identity, so the tests set up what an operator would).
 *
 * @module
 */

import assert from "node:assert/strict";

/**
 * Whether `openssl` is on PATH (the TLS tests are skipped, with a warning, if not).
 *
 * @example
 * ```ts ignore
 * Deno.test({ name: "tls", ignore: !hasOpenssl(), fn() {} });
 * ```
 */
export function hasOpenssl(): boolean {
  try {
    return new Deno.Command("openssl", { args: ["version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
}

/** Runs `openssl <command line>` in `dir` (no argument contains a space). */
async function openssl(dir: string, commandLine: string): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args: commandLine.split(" "),
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `openssl ${commandLine}: ${new TextDecoder().decode(stderr)}`);
}

/**
 * Paths of a CA certificate and of a certificate (and its key) for 127.0.0.1 that the CA
 * signed, written into `dir`; `name` is the certificate's common name and file stem.
 *
 * @example
 * ```ts ignore
 * const { ca, cert, key } = await testCertificates(await Deno.makeTempDir(), "node");
 * ```
 */
export async function testCertificates(
  dir: string,
  name: string,
): Promise<{ ca: string; cert: string; key: string }> {
  const key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  await openssl(dir, `req -x509 ${key} -keyout ca.key -out ca.pem -days 1 -subj /CN=test-ca`);
  await openssl(dir, `req ${key} -keyout ${name}.key -out ${name}.csr -subj /CN=edgeraft-${name}`);
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1\n");
  await openssl(
    dir,
    `x509 -req -in ${name}.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out ${name}.pem` +
      " -days 1 -extfile ext.cnf",
  );
  return { ca: `${dir}/ca.pem`, cert: `${dir}/${name}.pem`, key: `${dir}/${name}.key` };
}
