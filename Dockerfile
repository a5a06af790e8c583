# turnd in a container: a build stage compiles it from this tree, a slim
# Debian 12 runtime stage holds the programs, their runtime libraries and
# nothing else, and runs them as the unprivileged user turnd (uid 3478).
#
#   podman build -t turnd .        (or: docker build -t turnd .)
#   podman run -d --name turnd --network=host \
#       -e TURND_REALM=example.org -e TURND_USERS=alice:secret1 \
#       -e TURND_EXTERNAL_IP=203.0.113.5 turnd
#
# Host networking, because a TURN server hands out thousands of UDP relay
# ports (min-port..max-port) and tells clients their addresses: see the
# README's "Install" section. Configuration from a file mounted at
# /etc/turnd/turnd.conf, or else from TURND_* environment variables
# (docker/entrypoint.sh says which).
#
# The kernel fast path (kernel-offload) is not built here: it needs clang
# to build and CAP_BPF, CAP_NET_ADMIN and the host's interfaces to run,
# which a container rarely has; turnd relays in user space without it.

FROM docker.io/library/debian:bookworm-slim AS build
# scripts/deps.sh image: the build dependencies, without the fast path's.
COPY scripts/deps.sh /src/scripts/deps.sh
RUN sh /src/scripts/deps.sh image
COPY . /src
WORKDIR /src
RUN autoreconf -fi \
 && ./configure --prefix=/usr --sysconfdir=/etc --localstatedir=/var \
        --disable-kernel-offload --disable-sanitizers \
 && make -j"$(nproc)" \
 && make install-strip DESTDIR=/out \
 && mkdir -p /out/usr/share/doc/turnd \
 && mv /out/etc/turnd/turnd.conf /out/usr/share/doc/turnd/turnd.conf.sample \
 && rm -rf /out/usr/lib/systemd /out/usr/share/man

FROM docker.io/library/debian:bookworm-slim
# The runtime libraries of the programs built above (ldd of each: libevent,
# OpenSSL, libconfuse, libidn, hiredis). The image's test checks that every
# program resolves all of its libraries.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libevent-2.1-7 libevent-openssl-2.1-7 \
        libevent-pthreads-2.1-7 libssl3 libconfuse2 libidn12 libhiredis0.14 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 3478 turnd \
 && useradd --system --uid 3478 --gid turnd --home-dir /var/lib/turnd --create-home \
        --shell /usr/sbin/nologin turnd \
 && mkdir -p /etc/turnd
COPY --from=build /out/ /
COPY docker/entrypoint.sh /usr/bin/turnd-entrypoint
USER turnd
WORKDIR /var/lib/turnd
# The control socket (turnctl): where systemd's RuntimeDirectory= would
# put it, in a directory the user turnd owns (src/io/control_path.c).
ENV RUNTIME_DIRECTORY=/var/lib/turnd
# STUN/TURN over UDP and TCP, and over TLS and DTLS. Not the relay range
# (thousands of ports: publishing them one by one is what host networking
# avoids), nor the metrics port, which stays on 127.0.0.1.
EXPOSE 3478/udp 3478/tcp 5349/tcp 5349/udp
# /healthz answers 200 while turnd serves and 503 once it drains (SIGUSR1).
HEALTHCHECK --interval=30s --timeout=5s --start-period=5s --retries=3 \
    CMD ["turnd-entrypoint", "health"]
ENTRYPOINT ["turnd-entrypoint"]
