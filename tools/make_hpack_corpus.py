#!/usr/bin/env python3
"""Writes the seed corpora of the two HPACK fuzz targets.

Usage: tools/make_hpack_corpus.py [../shared/testdata/hpack-test-case]

fuzz/corpus/hpack_decode/     header blocks from the vectors, from RFC 7541
                              Appendix C and a few malformed ones, each behind
                              the limits prefix that fuzz_hpack_decode.cpp reads
fuzz/corpus/hpack_roundtrip/  header lists from raw-data and hand-made edge
                              cases, as operations for fuzz_hpack_roundtrip.cpp

The input layouts are described at the top of each fuzz target; keep this
script in step with them. The output is deterministic: rerunning it rewrites
the same files.
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_VECTORS = os.path.join(ROOT, "..", "shared", "testdata", "hpack-test-case")


def u16(v):
    return struct.pack(">H", v)


# --- fuzz_hpack_decode -------------------------------------------------------

def decode_seed(blocks, table=4096, header_list=0xFFFF, field=0xFFFF, cut=0, flags=0):
    """blocks: list of (wire bytes, table limit or None)."""
    out = u16(table) + u16(header_list) + u16(field) + bytes([cut, flags])
    for wire, limit in blocks:
        out += u16(len(wire))
        if flags & 1:
            out += u16(limit if limit is not None else table)
        out += wire
    return out


def story_blocks(path, count):
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"][:count]
    limit = None
    blocks = []
    for c in cases:
        if c.get("header_table_size") is not None:
            limit = c["header_table_size"]
        blocks.append((bytes.fromhex(c["wire"]), limit))
    return blocks


# RFC 7541 Appendix C.3 (requests, no Huffman), C.4 (the same with Huffman)
# and C.6 (responses with Huffman, table size 256).
RFC_C3 = ["828684410f7777772e6578616d706c652e636f6d",
          "828684be58086e6f2d6361636865",
          "828785bf400a637573746f6d2d6b65790c637573746f6d2d76616c7565"]
RFC_C4 = ["828684418cf1e3c2e5f23a6ba0ab90f4ff",
          "828684be5886a8eb10649cbf",
          "828785bf408825a849e95ba97d7f8925a849e95bb8e8b4bf"]
RFC_C6 = ["488264025885aec3771a4b6196d07abe941054d444a8200595040b8166e082a62d1bff6e919d29ad171863c78f0b97c8e9ae82ae43d3",
          "4883640effc1c0bf",
          "88c16196d07abe941054d444a8200595040b8166e084a62d1bffc05a839bd9ab77ad94e7821dd7f2e6c7b335dfdfcd5b3960d5af27087f3672c1ab270fb5291f9587316065c003ed4ee5b1063d5007"]

# Malformed blocks, one per decoder error (see include/h2wire/hpack.hpp).
BAD_BLOCKS = {
    "index_zero": "80",
    "index_out_of_range": "be",
    "integer_overflow": "ffffffffffffff7f",
    "truncated_string": "400a61",
    "huffman_eos": "0085ffffffffff0161",
    "huffman_padding": "0081000161",
    "size_update_over_limit": "3fe21f",
    "size_update_misplaced": "823f00",
}


def decode_corpus(vectors):
    seeds = {}
    folders = ["go-hpack", "haskell-http2-static", "nghttp2-16384-4096", "nghttp2-change-table-size",
               "node-http2-hpack", "python-hpack", "swift-nio-hpack-plain-text"]
    for folder in folders:
        for story in ("story_00.json", "story_21.json", "story_30.json"):
            path = os.path.join(vectors, folder, story)
            blocks = story_blocks(path, 6)
            first = blocks[0][1] if blocks[0][1] is not None else 4096
            name = "%s_%s" % (folder, story[:-5])
            seeds[name] = decode_seed(blocks, table=first, flags=1)
        # The same, byte by byte and in random pieces with empty fragments.
        blocks = story_blocks(os.path.join(vectors, folder, "story_05.json"), 4)
        first = blocks[0][1] if blocks[0][1] is not None else 4096
        seeds["%s_story_05_bytewise" % folder] = decode_seed(blocks, table=first, cut=1, flags=1)
        seeds["%s_story_05_pieces" % folder] = decode_seed(blocks, table=first, cut=7, flags=1 | 2 | 4)
    # The table-size changes of nghttp2-change-table-size: 4096 -> 1365 -> 2730.
    path = os.path.join(vectors, "nghttp2-change-table-size", "story_02.json")
    with open(path, encoding="utf-8") as f:
        cases = json.load(f)["cases"]
    changes = [i for i, c in enumerate(cases) if c.get("header_table_size") not in (None, 4096)]
    if changes:
        i = changes[0]
        seeds["nghttp2_table_size_change"] = decode_seed(story_blocks(path, i + 3)[max(0, i - 2):], flags=1)

    seeds["rfc7541_c3"] = decode_seed([(bytes.fromhex(w), None) for w in RFC_C3])
    seeds["rfc7541_c4_pieces"] = decode_seed([(bytes.fromhex(w), None) for w in RFC_C4], cut=3, flags=2)
    seeds["rfc7541_c6_table_256"] = decode_seed([(bytes.fromhex(w), 256) for w in RFC_C6], table=256, flags=1)
    # Small limits: the list and field limits bite on the C.6 responses.
    seeds["rfc7541_c6_small_list"] = decode_seed([(bytes.fromhex(w), None) for w in RFC_C6], header_list=100)
    seeds["rfc7541_c6_small_field"] = decode_seed([(bytes.fromhex(w), None) for w in RFC_C6], field=20, cut=2)
    # A lowered limit: the next block must start with a size update (or fails).
    seeds["lowered_limit_with_update"] = decode_seed(
        [(bytes.fromhex(RFC_C3[0]), 4096), (bytes.fromhex("20") + bytes.fromhex(RFC_C3[1]), 0)], flags=1)
    seeds["lowered_limit_without_update"] = decode_seed(
        [(bytes.fromhex(RFC_C3[0]), 4096), (bytes.fromhex(RFC_C3[1]), 100)], flags=1)
    seeds["two_size_updates"] = decode_seed([(bytes.fromhex("203fe10f82"), None)])
    for name, wire in BAD_BLOCKS.items():
        seeds["bad_" + name] = decode_seed([(bytes.fromhex("82"), None), (bytes.fromhex(wire), None)])
    return seeds


# --- fuzz_hpack_roundtrip ----------------------------------------------------

def field_op(name, value, sensitive=False):
    """A literal name and a literal value (op % 8 == 2, name kind 1)."""
    name = name.encode("utf-8") if isinstance(name, str) else name
    value = value.encode("utf-8") if isinstance(value, str) else value
    op = 2 | (1 << 3) | (0x40 if sensitive else 0)
    name = name[:255]
    if len(value) > 255:
        return bytes([op | 0x20, len(name)]) + name + u16(len(value)) + value
    return bytes([op, len(name)]) + name + bytes([len(value)]) + value


END_BLOCK = bytes([0])


def peer_table_size(size):
    return bytes([1]) + u16(size)


def roundtrip_seed(blocks, cap=4096, no_huffman=False, fragments=1, prefix=b""):
    out = u16(cap) + bytes([(1 if no_huffman else 0) | ((fragments - 1) << 1)]) + prefix
    for block in blocks:
        if isinstance(block, bytes):  # a raw operation (e.g. a table size change)
            out += block
            continue
        for h in block:
            out += field_op(*h)
        out += END_BLOCK
    return out


def raw_blocks(vectors, story, count):
    with open(os.path.join(vectors, "raw-data", story), encoding="utf-8") as f:
        cases = json.load(f)["cases"][:count]
    return [[(k, v) for h in c["headers"] for k, v in h.items()] for c in cases]


def roundtrip_corpus(vectors):
    seeds = {}
    for i, story in enumerate(("story_00.json", "story_07.json", "story_14.json", "story_21.json",
                               "story_28.json", "story_31.json")):
        blocks = raw_blocks(vectors, story, 4)
        name = "raw_" + story[:-5]
        seeds[name] = roundtrip_seed(blocks)
        seeds[name + "_table_256_plain"] = roundtrip_seed(blocks, cap=256, no_huffman=True, fragments=1 + i % 4)
        seeds[name + "_table_0"] = roundtrip_seed(blocks, cap=0, fragments=2)

    request = [(":method", "GET"), (":scheme", "https"), (":path", "/index.html"),
               (":authority", "example.com"), ("user-agent", "h2wire-fuzz/1.0")]
    secret = [("authorization", "Basic dXNlcjpwYXNz"), ("cookie", "a=b"), ("cookie", "x" * 40),
              ("x-token", "t0k3n", True), ("proxy-authorization", "")]
    seeds["sensitive_fields"] = roundtrip_seed([request + secret, request + secret])
    seeds["empty_names_and_values"] = roundtrip_seed([[("", ""), ("", "v"), ("n", ""), ("", "", True)]] * 2)
    seeds["binary_bytes"] = roundtrip_seed([[(bytes(range(0, 32)), bytes(range(128, 256))),
                                             (b"\x00", b"\xff" * 50), (b"x", bytes(range(256))[::-1])]])
    seeds["empty_blocks"] = roundtrip_seed([[], [], request, []])
    seeds["too_big_for_table"] = roundtrip_seed([[("x-big", "b" * 5000), ("x-big", "b" * 5000)], request],
                                                cap=4096)
    # Peer table size changes between blocks: down, then the §4.2 pair
    # (smallest, then final), then up above the default, then to zero.
    seeds["peer_table_size_changes"] = roundtrip_seed(
        [request, peer_table_size(1000), request, peer_table_size(100), peer_table_size(2000), request,
         peer_table_size(8192), request + request, peer_table_size(0), request, peer_table_size(4096), request],
        cap=0xFFFF, fragments=3)
    seeds["peer_table_size_below_cap"] = roundtrip_seed(
        [request, peer_table_size(300), request, peer_table_size(64), request], cap=256)
    # The peer announces exactly the encoder's cap before the first block: the
    # encoder must still send the size update the decoder now requires.
    seeds["peer_table_size_equal_to_cap"] = roundtrip_seed([peer_table_size(256), request, request], cap=256)
    seeds["peer_table_size_above_cap_0"] = roundtrip_seed([peer_table_size(12042), request, request], cap=0,
                                                          fragments=2)
    # Name kinds 0 (common names), 2 (previous name), 3 (empty) and common values.
    ops = b""
    for k in range(20):
        ops += bytes([2 | (0 << 3) | 0x80, k, k])  # common name k, common value k
        ops += bytes([2 | (2 << 3), 3]) + b"abc"    # previous name, value "abc"
        ops += bytes([2 | (3 << 3) | 0x40, 0])      # empty name and value, sensitive
        if k % 5 == 4:
            ops += END_BLOCK
    seeds["common_names_and_values"] = roundtrip_seed([], prefix=ops)
    return seeds


def write(folder, seeds):
    os.makedirs(folder, exist_ok=True)
    for name, data in sorted(seeds.items()):
        with open(os.path.join(folder, name), "wb") as f:
            f.write(data)
    print("%s: %d seeds, %d bytes" % (os.path.relpath(folder, ROOT), len(seeds), sum(map(len, seeds.values()))))


def main():
    vectors = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_VECTORS
    write(os.path.join(ROOT, "fuzz", "corpus", "hpack_decode"), decode_corpus(vectors))
    write(os.path.join(ROOT, "fuzz", "corpus", "hpack_roundtrip"), roundtrip_corpus(vectors))


if __name__ == "__main__":
    main()
