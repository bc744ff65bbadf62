#!/usr/bin/env python3
"""Copies a scalerl checkpoint without its optimizer state: the same weights, config and metadata,
flag bit 0 cleared, the payload cut to the P parameters. Written from the format table in
models/README.md ("Checkpoint format"), independently of models/checkpoint.c, so that a test can
build a base model that differs from another only in the Adam moments it stores.

usage: ckpt_weights_only.py IN OUT   (stdlib only; exit 1 with a one-line message on a bad file)
"""
import struct
import sys
import zlib


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: ckpt_weights_only.py IN OUT")
    data = open(sys.argv[1], "rb").read()
    if data[:8] != b"SCALERLC":
        sys.exit(f"{sys.argv[1]}: not a scalerl checkpoint")
    version, hlen, flags = struct.unpack_from("<III", data, 8)
    if version != 1 or not flags & 1:
        sys.exit(f"{sys.argv[1]}: expected format version 1 with optimizer state (got {version}, flags {flags})")
    raw_len, comp_len = struct.unpack_from("<QQ", data, hlen - 24)
    payload = zlib.decompress(data[hlen:hlen + comp_len])
    if len(payload) != raw_len or (raw_len - 8) % 12:
        sys.exit(f"{sys.argv[1]}: payload of {len(payload)} bytes, expected {raw_len} = 12 P + 8")
    weights = payload[:(raw_len - 8) // 12 * 4]
    packed = zlib.compress(weights, 1)
    header = bytearray(data[:hlen])
    struct.pack_into("<I", header, 16, flags & ~1)
    struct.pack_into("<QQI", header, hlen - 24, len(weights), len(packed), zlib.crc32(weights))
    struct.pack_into("<I", header, hlen - 4, zlib.crc32(bytes(header[:hlen - 4])))
    with open(sys.argv[2], "wb") as f:
        f.write(bytes(header) + packed)


if __name__ == "__main__":
    main()
