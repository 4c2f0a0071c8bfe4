#!/usr/bin/python3
"""An independent BSON implementation for decant's dump/restore tests: Debian's
python3-bson (part of pymongo) writes and reads the mongodump directory layout.

  bson_tool.py write-dump DIR [--gzip]   a mongodump-style dump of database circle_ghe
  bson_tool.py write-all-types FILE      every BSON type, FerretDB stores or not
  bson_tool.py write-decimal-dump DIR    a dump of shop.prices holding one Decimal128
  bson_tool.py hex-docs FILE             each document's bytes in hex, sorted
  bson_tool.py same-docs FILE_A FILE_B   exit 0 iff both files decode to equal documents
  bson_tool.py metadata FILE             collectionName, type and index names of a metadata.json
"""
import datetime
import gzip
import json
import os
import sys
import uuid

import bson
from bson import json_util
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument

RAW = CodecOptions(document_class=RawBSONDocument)


def opener(path, mode):
    return gzip.open(path, mode) if path.endswith(".gz") else open(path, mode)


def build(i):
    # Field order on purpose not alphabetical; types FerretDB 1.24 stores.
    return {
        "_id": bson.ObjectId(b"%012d" % i),
        "zeta": i % 3,
        "name": "build %d ✓" % i,
        "big": bson.Int64(1 << 40 | i),
        "ratio": i / 7.0,
        "ok": bool(i % 2),
        "none": None,
        "at": datetime.datetime(2024, 1, 1) + datetime.timedelta(seconds=i),
        "raw": bson.Binary(b"\x00\x01\x00" * (i % 4)),
        "re": bson.Regex("^b%d$" % i, "i"),
        "ts": bson.Timestamp(1700000000 + i, 1),
        "tags": ["a", i, {"k": "v"}],
        "nested": {"b": 1, "a": {"deep": [True, False]}},
    }


def write_dump(root, gz):
    ext = ".gz" if gz else ""
    db = os.path.join(root, "circle_ghe")
    os.makedirs(db, exist_ok=True)
    with opener(os.path.join(db, "builds.bson" + ext), "wb") as f:
        for i in range(2000):
            f.write(bson.encode(build(i)))
    # As mongodump 100.x writes it: canonical extended JSON, _id index included.
    meta = {
        "indexes": [
            {"v": 2, "key": {"_id": 1}, "name": "_id_"},
            {"v": 2, "key": {"name": 1, "at": -1}, "name": "name_at", "unique": True},
            {"v": 2, "key": {"zeta": 1}, "name": "zeta_1"},  # FerretDB 1.24 drops "sparse"
        ],
        "uuid": uuid.uuid4().hex,
        "collectionName": "builds",
        "type": "collection",
    }
    text = json_util.dumps(meta, json_options=json_util.CANONICAL_JSON_OPTIONS)
    with opener(os.path.join(db, "builds.metadata.json" + ext), "wb") as f:
        f.write(text.encode())
    with opener(os.path.join(db, "jobs.bson" + ext), "wb") as f:
        for i in range(10):
            f.write(bson.encode({"_id": i, "step": "s%d" % i}))
    meta = {"options": {"capped": True, "size": 65536, "max": 100}, "indexes": [{"v": 2, "key": {"_id": 1},
            "name": "_id_"}], "uuid": uuid.uuid4().hex, "collectionName": "jobs", "type": "collection"}
    with opener(os.path.join(db, "jobs.metadata.json" + ext), "wb") as f:
        f.write(json_util.dumps(meta, json_options=json_util.CANONICAL_JSON_OPTIONS).encode())


def write_all_types(path):
    docs = [
        {"double": 1.5, "nan": float("nan"), "inf": float("inf"), "neg_zero": -0.0},
        {"string": "ünïcode ✓", "empty": "", "doc": {"a": {"b": {"c": 1}}}, "array": [1, [2, [3]], {"x": []}]},
        {"binary": bson.Binary(b"\x00\xff", 0), "uuid": bson.Binary(uuid.UUID(int=7).bytes, 4),
         "user": bson.Binary(b"u", 128)},
        {"oid": bson.ObjectId(), "bool": False, "date": datetime.datetime(1969, 7, 20, 20, 17), "null": None},
        {"regex": bson.Regex("a.*z", "imsx"), "code": bson.Code("function() {}"),
         "code_scope": bson.Code("f(x)", {"x": 1}), "symbol": bson.Int64(3)},
        {"int32": 2147483647, "timestamp": bson.Timestamp(1, 2), "int64": bson.Int64(-(1 << 63)),
         "decimal": bson.Decimal128("-1.10E-6143"), "min": bson.MinKey(), "max": bson.MaxKey()},
        {"": "empty key", "$dollar": 1, "dot.ted": 2},
    ]
    with opener(path, "wb") as f:
        for d in docs:
            f.write(bson.encode(d))


def write_decimal_dump(root):
    # A value FerretDB 1.24 cannot store, among ordinary documents: database shop,
    # collection prices.
    db = os.path.join(root, "shop")
    os.makedirs(db, exist_ok=True)
    with open(os.path.join(db, "prices.bson"), "wb") as f:
        for i in range(5):
            f.write(bson.encode({"_id": i, "price": 1.5 + i}))
        f.write(bson.encode({"_id": 99, "price": bson.Decimal128("19.99")}))
    meta = {"indexes": [{"v": 2, "key": {"_id": 1}, "name": "_id_"}], "uuid": uuid.uuid4().hex,
            "collectionName": "prices", "type": "collection"}
    with open(os.path.join(db, "prices.metadata.json"), "wb") as f:
        f.write(json_util.dumps(meta, json_options=json_util.CANONICAL_JSON_OPTIONS).encode())


def read_raw(path):
    with opener(path, "rb") as f:
        return bson.decode_all(f.read(), RAW)


def main(argv):
    cmd = argv[1]
    if cmd == "write-dump":
        write_dump(argv[2], "--gzip" in argv)
    elif cmd == "write-decimal-dump":
        write_decimal_dump(argv[2])
    elif cmd == "write-all-types":
        write_all_types(argv[2])
    elif cmd == "hex-docs":
        for h in sorted(d.raw.hex() for d in read_raw(argv[2])):
            print(h)
    elif cmd == "same-docs":
        a, b = read_raw(argv[2]), read_raw(argv[3])
        if [d.raw for d in a] != [d.raw for d in b]:
            sys.exit("documents differ")
        decoded = [bson.decode(d.raw) for d in b]  # every type must decode
        print(len(decoded))
    elif cmd == "metadata":
        with opener(argv[2], "rb") as f:
            meta = json_util.loads(f.read().decode())
        print(meta["collectionName"], meta["type"], ",".join(sorted(i["name"] for i in meta["indexes"])),
              json.dumps(meta.get("options", {}), default=str, sort_keys=True))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
