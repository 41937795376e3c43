# imagegate as a container image: one static binary on scratch, a CA bundle for registries and
# the OSV download (reqwest's rustls reads the OS trust store: SSL_CERT_FILE below), a non-root
# user with an /etc/passwd entry (the gate's own user check maps it), and the shipped policies.
# No shell and no package manager: nothing else to patch. A GitLab CI job needs a shell in its
# image, so there use the release binary instead (README.md, "The container image").
#
# The binary is built outside (no base image is pulled): the release builds static musl
# binaries with cargo-zigbuild and builds this file once per platform with
#   BINARY=dist/linux-$TARGETARCH/imagegate CA_BUNDLE=dist/ca-certificates.crt
# Locally (no musl target here), a static glibc build does:
#   RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --target x86_64-unknown-linux-gnu
#   mkdir -p dist/linux-amd64 && cp target/x86_64-unknown-linux-gnu/release/imagegate dist/linux-amd64/
#   cp /etc/ssl/certs/ca-certificates.crt dist/
#   buildah bud --isolation chroot --format docker -t imagegate .   # or docker build -t imagegate .
# (`--format docker` keeps the labels and the image config as Docker writes them.)
FROM scratch

# Set by BuildKit (docker buildx) and buildah per platform: amd64, arm64.
ARG TARGETARCH
ARG BINARY=dist/linux-${TARGETARCH}/imagegate
ARG CA_BUNDLE=dist/ca-certificates.crt
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=https://github.com/OWNER/imagegate

LABEL org.opencontainers.image.title="imagegate" \
      org.opencontainers.image.description="Decide whether a container image may ship, and explain why." \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

COPY docker/rootfs/ /
COPY --chown=65532:65532 docker/home/ /home/imagegate/
COPY ${CA_BUNDLE} /etc/ssl/certs/ca-certificates.crt
COPY policies/ /etc/imagegate/policies/
COPY ${BINARY} /usr/local/bin/imagegate

ENV PATH=/usr/local/bin \
    HOME=/home/imagegate \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
USER 65532:65532
WORKDIR /home/imagegate
ENTRYPOINT ["imagegate"]
CMD ["--help"]
