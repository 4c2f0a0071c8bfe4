# decant's image: what `decant migrate --image` runs as a Job in the cluster it migrates, and
# what `decant backup schedule`'s CronJobs run. Debian trixie, whose PostgreSQL 17 client tools
# (pg_dump, pg_restore, psql) read every server from 12 to 17; decant picks the newest.
#   docker build -t REGISTRY/decant:VERSION .           (or buildah bud)
# The tests build it without a registry (scripts/k8s/image.sh decant:VERSION --dockerfile
# Dockerfile): DEBIAN_SUITE names a local base image, and a ccache directory mounted at /ccache
# makes a rebuild quick.
ARG DEBIAN_SUITE=debian:trixie

FROM ${DEBIAN_SUITE} AS build
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ccache ca-certificates \
      libpq-dev libcli11-dev nlohmann-json3-dev libfmt-dev libssl-dev libzstd-dev libxxhash-dev zlib1g-dev \
      libcurl4-openssl-dev libmongoc-dev libbson-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN launcher=""; if [ -d /ccache ]; then launcher="-DCMAKE_CXX_COMPILER_LAUNCHER=ccache"; fi \
    && CCACHE_DIR=/ccache cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release \
         -DDECANT_TESTS=OFF -DDECANT_WERROR=OFF $launcher \
    && CCACHE_DIR=/ccache CCACHE_BASEDIR=/src cmake --build /build --target decant \
    && strip /build/decant \
    # the Debian packages that hold the libraries decant links, for the runtime stage
    && for lib in $(ldd /build/decant | awk '$2 == "=>" { print $3 }'); do \
         dpkg -S "$(realpath "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true; \
       done | cut -d: -f1 | sort -u > /build/runtime-packages

FROM ${DEBIAN_SUITE}
COPY --from=build /build/runtime-packages /tmp/runtime-packages
RUN apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates postgresql-client-17 $(cat /tmp/runtime-packages) \
    && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages \
    && useradd --uid 65532 --home-dir /var/lib/decant --create-home decant
COPY --from=build /build/decant /usr/local/bin/decant
# An unprivileged user (numeric, so that runAsNonRoot can check it); the jobs mount their
# state (HOME) and keys.
USER 65532
ENV HOME=/var/lib/decant
ENTRYPOINT ["/usr/local/bin/decant"]
