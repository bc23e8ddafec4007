# syntax=docker/dockerfile:1
# A load-balancer box: nginx and keepalived in one container, configured from LB_* environment
# variables by nginx/render.sh at start (see docker/lb-entrypoint.sh). Build context: the
# repository root.
#
# The demo also runs its one-shot setup (openssl) and its port-forwarding entry (socat) from
# this image, so that the demo needs no other image of its own, and app3 (python3, standard
# library only). iproute2 is there to see which box holds the VIP (ip -4 addr show eth0).

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        nginx keepalived gettext-base curl openssl socat iproute2 ca-certificates python3 \
    && rm -rf /var/lib/apt/lists/*
COPY --chmod=0644 nginx/nginx.conf.template nginx/keepalived.conf.template \
    nginx/app3.conf.template /usr/local/lib/sso-ha/nginx/
COPY --chmod=0644 nginx/forward-auth/server.conf nginx/forward-auth/location.conf \
    /usr/local/lib/sso-ha/nginx/forward-auth/
COPY --chmod=0755 nginx/render.sh nginx/check_nginx.sh nginx/supervise_nginx.sh \
    /usr/local/lib/sso-ha/nginx/
COPY --chmod=0755 docker/lb-entrypoint.sh /usr/local/lib/sso-ha/
ENTRYPOINT ["/usr/local/lib/sso-ha/lb-entrypoint.sh"]
