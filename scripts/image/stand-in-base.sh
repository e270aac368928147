#!/bin/sh
# A local stand-in for the job image's base, node:24-bookworm-slim, for machines where no container
# registry can be reached (`npm run test:image` uses it only then). Debian bookworm (debootstrap,
# minbase) with the Node binary of the npm `node` package this project pins (node_modules/node),
# npm beside it, and the `node` user (uid 1000) the official image has. Imported with `docker
# import` and tagged as the Dockerfile names its base. Not for production images: those are built
# on the real base (jobs/Dockerfile).
#
#   scripts/image/stand-in-base.sh            (needs root: debootstrap; and a Docker engine)
set -eu
ROOT_DIR=$(cd "$(dirname "$0")/../.." && pwd)
NODE_BIN="$ROOT_DIR/node_modules/node/bin/node"
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
TAGS="public.ecr.aws/docker/library/node:24-bookworm-slim node:24-bookworm-slim"

[ -x "$NODE_BIN" ] || { echo "stand-in-base: $NODE_BIN is missing: run npm ci first" >&2; exit 2; }
command -v debootstrap >/dev/null || { echo "stand-in-base: debootstrap is missing: apt-get install debootstrap" >&2; exit 2; }
NPM_DIR=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
[ -f "$NPM_DIR/package.json" ] || { echo "stand-in-base: cannot find npm's own folder (from $(command -v npm))" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
debootstrap --variant=minbase bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
# What the official slim image adds: Node and npm under /usr/local and the node user; like it, no
# apt lists (a Dockerfile that installs packages runs apt-get update first).
install -m 0755 "$NODE_BIN" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$NPM_DIR" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
chroot "$rootfs" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
rm -rf "$rootfs/var/lib/apt/lists/"* "$rootfs/var/cache/apt/"*.bin
# A host behind a TLS-intercepting proxy names its CA bundle in NODE_EXTRA_CA_CERTS: the stand-in
# trusts it too, or npm ci in the image build fails (SELF_SIGNED_CERT_IN_CHAIN).
set -- --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]'
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  mkdir -p "$rootfs/etc/ssl" && cp "$NODE_EXTRA_CA_CERTS" "$rootfs/etc/ssl/host-extra-ca.crt"
  set -- "$@" --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/host-extra-ca.crt'
fi
first=""
for tag in $TAGS; do
  if [ -z "$first" ]; then
    tar -C "$rootfs" -c . | docker import "$@" - "$tag" >/dev/null
    first=$tag
  else
    docker tag "$first" "$tag"
  fi
done
echo "stand-in-base: tagged $TAGS ($(docker image inspect --format '{{.Size}}' "$first" | awk '{printf "%d MB", $1/1e6}'))"
