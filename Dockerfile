# The catchment service as a container image: the binary and OSRM's tools (for preparing an
# extract and running osrm-routed), run as a user without privileges. Not built in CI.
#
#   docker build -t catchment .
#   docker run --rm -e CATCHMENT_TOKENS=write:change-me -p 8080:8080 catchment
#
# deploy/compose.yaml runs PostgreSQL, an API node, two workers and OSRM from this image.

FROM rust:1-bookworm AS build
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coinor-libcbc-dev pkg-config \
      libsqlite3-dev unzip python3-pip >/dev/null
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin catchment --bin catchment-dataset \
 && bash scripts/osrm install \
 && mkdir -p /out/osrm && cp -r "$(bash scripts/osrm bin)"/.. /out/osrm/

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      coinor-libcbc3 libsqlite3-0 libstdc++6 ca-certificates >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/catchment catchment
COPY --from=build /src/target/release/catchment /src/target/release/catchment-dataset /usr/local/bin/
COPY --from=build /out/osrm /opt/osrm
ENV PATH="/opt/osrm/bin:${PATH}" \
    CATCHMENT_LISTEN=0.0.0.0:8080 \
    CATCHMENT_DB=/var/lib/catchment/catchment.db
USER catchment
WORKDIR /var/lib/catchment
EXPOSE 8080
ENTRYPOINT ["catchment"]
CMD ["serve"]
