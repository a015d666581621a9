# Runs the cgroup tests as PID 1 of a memory-capped container:
#   docker build -t go-watchdog-test . && \
#   docker run --rm --memory=32MiB --memory-swap=32MiB go-watchdog-test
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go test -c -o /watchdog.test .

FROM scratch
COPY --from=build /watchdog.test /watchdog.test
ENTRYPOINT ["/watchdog.test", "-test.v", "-test.run", "TestCgroupDrivenAsContainerInit|TestCgroupDrivenReal"]
