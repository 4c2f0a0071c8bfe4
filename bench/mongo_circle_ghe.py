#!/usr/bin/python3
"""Generates a circle_ghe-like MongoDB database: mongo_circle_ghe.py URI DOCUMENTS."""
import datetime, random, sys
from pymongo import MongoClient, InsertOne
uri, total = sys.argv[1], int(sys.argv[2])
db = MongoClient(uri).circle_ghe
rnd = random.Random(42)
base = datetime.datetime(2024, 1, 1)
# Shares of the documents per collection, and a maker for each (small and large documents,
# nested objects, arrays; FerretDB 1.24 stores no nested arrays).
def build(i):
    return {"build_num": i, "project": "gh/org/repo-%d" % (i % 500), "branch": "main" if i % 3 else "feature-%d" % i,
            "status": rnd.choice(["success", "failed", "running", "canceled"]), "queued_at": base + datetime.timedelta(seconds=i),
            "vcs": {"revision": "%040x" % rnd.getrandbits(160), "committer": {"name": "dev %d" % (i % 97), "email": "dev%d@example.com" % (i % 97)}},
            "workflow": {"id": "%032x" % rnd.getrandbits(128), "job_name": "test-%d" % (i % 20)},
            "parallel": i % 4 + 1, "tags": ["ci", "linux", "docker"][: i % 3 + 1]}
def step(i):
    return {"build_num": i // 4, "index": i % 4, "name": "step %d" % (i % 4), "exit_code": i % 7 == 0 and 1 or 0,
            "run_time_millis": rnd.randint(10, 600000), "started": base + datetime.timedelta(seconds=i)}
def action_log(i):
    return {"build_num": i, "output": "".join(rnd.choice("abcdefghij \n") for _ in range(3000)), "truncated": False}
def artifact(i):
    return {"build_num": i, "path": "/home/circleci/project/out/%d/report.xml" % i, "size": rnd.randint(1, 1 << 30),
            "url": "https://example.com/artifacts/%d" % i, "node_index": i % 4}
plan = [("builds", 0.35, build), ("steps", 0.45, step), ("artifacts", 0.17, artifact), ("action_logs", 0.03, action_log)]
for name, share, make in plan:
    n = int(total * share)
    coll = db[name]
    batch = []
    for i in range(n):
        batch.append(make(i))
        if len(batch) == 2000:
            coll.insert_many(batch, ordered=False); batch = []
    if batch:
        coll.insert_many(batch, ordered=False)
db.builds.create_index([("project", 1), ("build_num", -1)], unique=True)
db.builds.create_index([("queued_at", 1)])
db.steps.create_index([("build_num", 1), ("index", 1)])
db.artifacts.create_index([("build_num", 1)])
print({name: db[name].estimated_document_count() for name, _, _ in plan})
