# The decant image that `decant backup schedule`'s CronJobs run (and that can run
# `decant migrate` from inside a cluster). Built from this repository's own build:
#   docker build -t REGISTRY/decant:VERSION .
# PostgreSQL's client tools come from the PostgreSQL project's Debian repository so that
# the newest pg_dump (17) reads every server from 12 to 17; decant picks the newest one.
# (Not built in CI: no container engine runs on the CI machines.)

FROM debian:bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build pkg-config \
      libpq-dev libcli11-dev nlohmann-json3-dev libfmt-dev libssl-dev libzstd-dev libxxhash-dev zlib1g-dev \
      libcurl4-openssl-dev libmongoc-dev libbson-dev \
    && rm -rf /var/lib/apt/lists/*
COPY . /src
RUN cmake -S /src -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDECANT_TESTS=OFF \
    && cmake --build /build --target decant \
    && strip /build/decant

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl gnupg \
    && install -d /usr/share/postgresql-common/pgdg \
    && curl -fsSL https://www.postgresql.org/media/keys/ACCC4CF8.asc \
         | gpg --dearmor -o /usr/share/postgresql-common/pgdg/apt.postgresql.org.gpg \
    && echo "deb [signed-by=/usr/share/postgresql-common/pgdg/apt.postgresql.org.gpg] https://apt.postgresql.org/pub/repos/apt bookworm-pgdg main" \
         > /etc/apt/sources.list.d/pgdg.list \
    && apt-get update && apt-get install -y --no-install-recommends \
      postgresql-client-17 libpq5 libmongoc-1.0-0 libbson-1.0-0 libzstd1 libxxhash0 libcurl4 libssl3 zlib1g \
      libfmt9 \
    && apt-get purge -y gnupg && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/decant /usr/local/bin/decant
# An unprivileged user; the jobs mount their state (HOME) and keys.
RUN useradd --uid 65532 --home-dir /var/lib/decant --create-home decant
USER 65532
ENV HOME=/var/lib/decant
ENTRYPOINT ["/usr/local/bin/decant"]
