# kwid's image: a static binary on distroless, non-root, read-only friendly.
#   docker build -t ghcr.io/kwid-dev/kwid:0.1.0 .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /kwid ./cmd/kwid

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /kwid /kwid
USER 65532:65532
ENTRYPOINT ["/kwid"]
