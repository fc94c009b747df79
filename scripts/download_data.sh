#!/usr/bin/env bash
# Downloads the full data sets for users with a network connection (the bundled 10k-digit MNIST
# subset in data/mnist-10k needs none). Files are checked against their published MD5 sums.
#
#   scripts/download_data.sh [mnist|fashion|cifar10|all] [DEST]      (default: all, data/)
#
# Then train with:  gan train --data mnist:DEST/mnist   --data fashion:DEST/fashion-mnist
#                   gan train --model dcgan32 --data cifar10:DEST/cifar-10-batches-bin
set -euo pipefail

what="${1:-all}"
dest="${2:-$(cd "$(dirname "$0")/.." && pwd)/data}"

fetch() {  # fetch URL FILE MD5
  local url="$1" file="$2" md5="$3"
  if [[ -f "$file" ]] && echo "$md5  $file" | md5sum -c --status; then
    echo "have $file"
    return
  fi
  echo "downloading $url"
  mkdir -p "$(dirname "$file")"
  if command -v curl > /dev/null; then
    curl -fL --retry 3 -o "$file.part" "$url"
  else
    wget -q -O "$file.part" "$url"
  fi
  if ! echo "$md5  $file.part" | md5sum -c --status; then
    echo "error: $file: checksum mismatch (expected MD5 $md5)" >&2
    rm -f "$file.part"
    exit 1
  fi
  mv "$file.part" "$file"
}

mnist() {
  local base="https://ossci-datasets.s3.amazonaws.com/mnist"
  fetch "$base/train-images-idx3-ubyte.gz" "$dest/mnist/train-images-idx3-ubyte.gz" f68b3c2dcbeaaa9fbdd348bbdeb94873
  fetch "$base/train-labels-idx1-ubyte.gz" "$dest/mnist/train-labels-idx1-ubyte.gz" d53e105ee54ea40749a09fcbcd1e9432
  fetch "$base/t10k-images-idx3-ubyte.gz" "$dest/mnist/t10k-images-idx3-ubyte.gz" 9fb629c4189551a2d022fa330f9573f3
  fetch "$base/t10k-labels-idx1-ubyte.gz" "$dest/mnist/t10k-labels-idx1-ubyte.gz" ec29112dd5afa0611ce80d1b7f02629c
  echo "MNIST: --data mnist:$dest/mnist"
}

fashion() {
  local base="http://fashion-mnist.s3-website.eu-central-1.amazonaws.com"
  fetch "$base/train-images-idx3-ubyte.gz" "$dest/fashion-mnist/train-images-idx3-ubyte.gz" 8d4fb7e6c68d591d4c3dfef9ec88bf0d
  fetch "$base/train-labels-idx1-ubyte.gz" "$dest/fashion-mnist/train-labels-idx1-ubyte.gz" 25c81989df183df01b3e8a0aad5dffbe
  fetch "$base/t10k-images-idx3-ubyte.gz" "$dest/fashion-mnist/t10k-images-idx3-ubyte.gz" bef4ecab320f06d8554ea6380940ec79
  fetch "$base/t10k-labels-idx1-ubyte.gz" "$dest/fashion-mnist/t10k-labels-idx1-ubyte.gz" bb300cfdad3c16e7a12a480ee83cd310
  echo "Fashion-MNIST: --data fashion:$dest/fashion-mnist"
}

cifar10() {
  fetch "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz" "$dest/cifar-10-binary.tar.gz" \
    c32a1d4ab5d03f1284b67883e8d87530
  tar -xzf "$dest/cifar-10-binary.tar.gz" -C "$dest"
  echo "CIFAR-10: --data cifar10:$dest/cifar-10-batches-bin"
}

case "$what" in
  mnist) mnist ;;
  fashion) fashion ;;
  cifar10) cifar10 ;;
  all) mnist; fashion; cifar10 ;;
  *) echo "usage: $0 [mnist|fashion|cifar10|all] [DEST]" >&2; exit 2 ;;
esac
