#!/usr/bin/env bash
# Assembles the real ACK CRDs that CI tests against (../shared/ack-crds beside the
# checkout, the Makefile's ACK_CRDS_DIR default; docs/architecture.md#ack-crds-in-tests) from checkouts of the ACK repositories at the commits in
# hack/ack-crds.sha256's header, and verifies every file against its checksum there.
# Third-party CRDs are never committed to this repository; CI fetches them instead.
#
#   hack/ack-crds.sh SRC DEST
#
# SRC holds the checkouts rds-controller/, elasticache-controller/, ec2-controller/,
# runtime/, s3-controller/, cloudfront-controller/ and acm-controller/ (the CI workflow's
# actions/checkout steps create them); DEST is created. A checksum line's path may have a
# folder (images-cdn/...): the file is copied there, as ../shared/ack-crds lays it out.
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SRC DEST" >&2
  exit 2
fi
src=$1
dest=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
sums="$here/ack-crds.sha256"

repo_of() {
  case $1 in
    rds.*) echo rds-controller ;;
    elasticache.*) echo elasticache-controller ;;
    ec2.*) echo ec2-controller ;;
    s3.*) echo s3-controller ;;
    cloudfront.*) echo cloudfront-controller ;;
    acm.*) echo acm-controller ;;
    services.k8s.aws_*) echo runtime ;;
    *) echo "no ACK repository known for $1" >&2; return 1 ;;
  esac
}

mkdir -p "$dest"
while read -r _ file; do
  base=$(basename "$file")
  repo=$(repo_of "$base")
  from="$src/$repo/config/crd/bases/$base"
  if [[ ! -f $from ]]; then
    echo "missing $from: check out aws-controllers-k8s/$repo at the commit named in .github/workflows/ci.yml" >&2
    exit 1
  fi
  mkdir -p "$dest/$(dirname "$file")"
  cp "$from" "$dest/$file"
done < <(grep -v '^#' "$sums")
(cd "$dest" && sha256sum --quiet -c "$sums")
echo "ACK CRDs in $dest: $(grep -vc '^#' "$sums") files, checksums verified"
