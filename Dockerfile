# syntax=docker/dockerfile:1
# adsync's image: the three binaries (worker, enqueuer, mockapi), built
# static (CGO_ENABLED=0, -trimpath) and run as a non-root user on distroless.
# The compose file picks the program with `command:`; the default is worker.
# Migrations are embedded in the binaries, so the image holds nothing else.

ARG GO_VERSION=1.26

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./cmd/...

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/ /usr/local/bin/
USER nonroot:nonroot
# 8080: the worker's ops server (HTTP_ADDR); 3001: the mock platform.
EXPOSE 8080 3001
CMD ["worker"]
