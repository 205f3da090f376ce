# One edgeraft node. Build: docker build -t edgeraft .   Run a cluster: see docs/docker.md.
# Configuration is by EDGERAFT_* environment variables (or flags appended to `docker run`).
FROM denoland/deno:2.9.6

# The volume's mount point must exist and belong to the runtime user before VOLUME, so that a
# fresh named volume starts out writable by that user. /app is writable too, for a node_modules
# directory should deno.json ever ask for one; the sources copied into it stay root's.
RUN mkdir -p /data /app && chown deno:deno /data /app

WORKDIR /app
USER deno

# Dependencies first: this layer is rebuilt only when deno.json or deno.lock change.
# --frozen fails the build rather than resolve versions the lock file does not name.
COPY deno.json deno.lock ./
RUN deno install --frozen

COPY src/ ./src/
RUN deno cache --frozen src/cli/node.ts

ENV EDGERAFT_DATA_DIR=/data \
    EDGERAFT_CLIENT_ADDR=0.0.0.0:7001 \
    EDGERAFT_PEER_ADDR=0.0.0.0:7101 \
    EDGERAFT_LOG_FORMAT=json \
    MALLOC_ARENA_MAX=2 \
    MALLOC_TRIM_THRESHOLD_=131072 \
    DENO_V8_FLAGS=--no-allocation-site-pretenuring

VOLUME ["/data"]
EXPOSE 7001 7101

# /healthz answers once the process serves its client API. The image has no curl, so Deno
# itself fetches it, at EDGERAFT_CLIENT_ADDR (127.0.0.1 when that binds every interface), over
# https when EDGERAFT_CLIENT_TLS_CERT is set. That probe skips certificate checks: it asks its
# own container over loopback, and the certificate names the public host, not 127.0.0.1.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["deno", "eval", "--no-config", "--unsafely-ignore-certificate-errors", "const a = Deno.env.get('EDGERAFT_CLIENT_ADDR') ?? '0.0.0.0:7001'; const i = a.lastIndexOf(':'); const h = a.slice(0, i); const host = ['', '0.0.0.0', '::', '[::]'].includes(h) ? '127.0.0.1' : h; const s = Deno.env.get('EDGERAFT_CLIENT_TLS_CERT') ? 'https' : 'http'; const r = await fetch(s + '://' + host + ':' + a.slice(i + 1) + '/healthz', { signal: AbortSignal.timeout(4000) }); Deno.exit(r.ok ? 0 : 1);"]

# tini (shipped at /tini in the official image) runs as PID 1: it forwards SIGTERM from
# `docker stop` to the node, which then shuts down cleanly, and reaps zombies.
# Permissions are the node's documented --allow-all: the container is the sandbox.
ENTRYPOINT ["/tini", "--", "deno", "run", "--cached-only", "--frozen", "--allow-all", "src/cli/node.ts"]
CMD []
