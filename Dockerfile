# leadbot in a container: the embedded store in the volume /var/lib/leadbot, or PostgreSQL with
# DATABASE_URL. Untested here (no container engine where it was written); see README "Deploy".
#
#   docker build -t leadbot .
#   docker run -d -p 127.0.0.1:8080:8080 -v leadbot-data:/var/lib/leadbot leadbot

# --- build: the release binary (SQLite is compiled in from the libsqlite3-sys crate) ---------
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin leadbot \
 && cp target/release/leadbot /leadbot

# --- run: a slim image with the binary and nothing to build with -----------------------------
FROM debian:bookworm-slim
# ca-certificates: HTTPS to Telegram, Bitrix24, the LLM. curl: the health check below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --home-dir /var/lib/leadbot --shell /usr/sbin/nologin leadbot \
 && install -d -o leadbot -g leadbot -m 0750 /var/lib/leadbot
COPY --from=build /leadbot /usr/local/bin/leadbot

USER leadbot
# The default database.path (data/leadbot.db) is relative to here: the volume.
WORKDIR /var/lib/leadbot
VOLUME ["/var/lib/leadbot"]
# Inside the container leadbot listens on every interface; publish the port to 127.0.0.1 and put
# a TLS proxy in front (README "Deploy").
ENV LEADBOT_LISTEN=0.0.0.0:8080
EXPOSE 8080
# /readyz answers 200 once the store answers (503 while it does not).
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
# SIGTERM (docker stop) shuts down gracefully: the store is closed, the WAL checkpointed.
ENTRYPOINT ["/usr/local/bin/leadbot"]
CMD ["serve"]
