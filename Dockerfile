# Octet's container image: octet-server, the octet CLI and the example model repository.
#
#   docker build -t octet .
#   docker run --rm -p 8001:8001 -p 8002:8002 octet                      # serves /models
#   docker run --rm -p 8001:8001 -p 8002:8002 -v ./models:/models octet  # your repository
#   docker run --rm -p 8001:8001 octet --model-repository=/models --threads=2   # other flags
#
# Two stages: a Debian 12 build stage that installs the build packages (scripts/install-deps.sh)
# and builds only octet-server and octet in Release, and a slim Debian 12 runtime stage with the
# shared libraries those two binaries link and nothing else (no compiler, no -dev packages).
# The base images are build arguments so that a machine that cannot reach docker.io can build
# from a local Debian 12 image (deploy/test-image.sh does, with one made by debootstrap).
# Build with `--format docker` under podman/buildah: the OCI format has no HEALTHCHECK.

ARG BUILD_BASE_IMAGE=docker.io/library/debian:bookworm
ARG RUNTIME_BASE_IMAGE=docker.io/library/debian:bookworm-slim

# ---- build ----
FROM ${BUILD_BASE_IMAGE} AS build
# Parallel compile jobs (0: one per core). Each job of the gRPC-heavy sources needs ~1 GiB.
ARG BUILD_JOBS=0
# The package list lives in one place: this layer is rebuilt only when it changes.
COPY scripts/install-deps.sh /src/scripts/install-deps.sh
RUN /src/scripts/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
# Warnings stay warnings here: a newer compiler's new warning must not break a user's image.
RUN jobs=${BUILD_JOBS}; [ "$jobs" -gt 0 ] || jobs=$(nproc); \
    cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DOCTET_WERROR=OFF >/dev/null \
 && cmake --build /build --parallel "$jobs" --target octet-server octet \
 && strip /build/server/octet-server /build/client/octet

# ---- runtime ----
FROM ${RUNTIME_BASE_IMAGE} AS runtime
# No documentation, manuals or translations from the packages below (as in debian:*-slim).
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
      'path-exclude /usr/share/locale/*' > /etc/dpkg/dpkg.cfg.d/octet-slim
# The shared libraries of octet-server and octet (found with ldd and dpkg -S); their own
# dependencies (libgrpc29, libc-ares2, libre2-9, libcivetweb1, ocl-icd-libopencl1, ...) follow.
# ca-certificates: for TLS to servers whose certificates a public CA signed (octet --tls).
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libprotobuf32 libdnnl2 libabsl20220623 libonnx1 \
      libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libgomp1 libssl3 zlib1g \
      ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log

COPY --from=build /build/server/octet-server /build/client/octet /usr/local/bin/
# A fixed numeric id, so that Kubernetes' runAsNonRoot can check it and volumes can be chowned.
# /models belongs to the user: a calibration publishes its INT8 version there. /datasets is where
# server-side calibration data sets are mounted (--dataset-root).
RUN groupadd --system --gid 10001 octet \
 && useradd --system --uid 10001 --gid octet --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin octet \
 && mkdir -p /models /datasets && chown 10001:10001 /models
COPY --chown=10001:10001 examples/models /models
USER 10001:10001

EXPOSE 8001 8002
# Live and ready (KServe ServerLive and ServerReady) over gRPC; `octet health` exits 0 only then.
# A server started with TLS needs a HEALTHCHECK of its own (--tls --ca ...).
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["octet", "--url", "127.0.0.1:8001", "--timeout", "3s", "health"]
# Arguments after the image name replace CMD, so give --model-repository with your other flags.
ENTRYPOINT ["octet-server"]
CMD ["--model-repository=/models", "--grpc-address=0.0.0.0:8001", \
     "--metrics-address=0.0.0.0:8002", "--dataset-root=/datasets"]
