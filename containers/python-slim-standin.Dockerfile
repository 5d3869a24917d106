# A stand-in for the official python:3.11-slim, built FROM a debootstrap'd Debian bookworm
# (containers/engine.sh base) on machines that cannot pull images. Not used in production.
# Build context: a directory holding certs/*.crt (the machine's extra CA certificates; may be empty).
ARG DEBIAN_IMAGE=local/debian-min:bookworm
FROM ${DEBIAN_IMAGE}
COPY certs/ /usr/local/share/ca-certificates/
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3 python3-venv python3-pip-whl ca-certificates; \
    update-ca-certificates; \
    python3 -m venv /usr/local; \
    /usr/local/bin/python -m pip --version; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb /root/.cache
ENV LANG=C.UTF-8 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
CMD ["python3"]
