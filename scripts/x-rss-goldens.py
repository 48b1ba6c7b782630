#!/usr/bin/env python3
"""Writes tests/fixtures/<fixture>/x-rss-crit-4.2.txt: what crit 4.2's
`x DIR rss` prints, computed with crit's own rss algorithm over the crit 4.2
JSON goldens of the fixture (crit 4.2 reads CRIU 4.2's 64-bit nr_pages,
which Debian's crit 3.17 cannot, so the crit/x-rss.txt files show 0-page
runs). Re-run after regenerating fixtures: python3 scripts/x-rss-goldens.py
"""
import json
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures")
FIXTURES = ["counter/none", "counter/gzip", "counter/zstd", "k8s-counter", "pytree", "threads", "pytree-host", "counter-host", "predump"]


def load(gold, name):
    return json.load(open(os.path.join(gold, name + ".json")))


def rss(gold):
    out = []
    files = load(gold, "files.img")["entries"]

    def fname(fid):
        for f in files:
            if f["id"] == fid:
                return f["reg"]["name"] if "reg" in f else "unknown path"
        return "unknown path"

    for p in load(gold, "pstree.img")["entries"]:
        pid = p["pid"]
        vmas = load(gold, "mm-%d.img" % pid)["entries"][0]["vmas"]
        pms = load(gold, "pagemap-%d.img" % pid)["entries"]
        out.append("%d" % pid)
        vmi, pvmi = 0, -1
        for pm in pms[1:]:
            pstr = "\t%lx / %-8d" % (pm["vaddr"], pm["nr_pages"])
            while vmi < len(vmas) and vmas[vmi]["end"] <= pm["vaddr"]:
                vmi += 1
            pme = pm["vaddr"] + (pm["nr_pages"] << 12)
            vstr = ""
            while vmi < len(vmas) and vmas[vmi]["start"] < pme:
                vma = vmas[vmi]
                if vmi == pvmi:
                    vstr += " ~"
                else:
                    vstr += " %08lx / %-8d" % (vma["start"], (vma["end"] - vma["start"]) >> 12)
                    if vma["status"] & ((1 << 6) | (1 << 7)):
                        vstr += " " + fname(vma["shmid"])
                    pvmi = vmi
                vstr += "\n\t%23s" % ""
                vmi += 1
            vmi -= 1
            out.append("%-24s%s" % (pstr, vstr))
    return "\n".join(out) + "\n"


for fixture in FIXTURES:
    gold = os.path.join(ROOT, fixture, "decoded-crit-4.x-plain")
    if fixture == "predump":
        gold = os.path.join(gold, "dump")
    with open(os.path.join(ROOT, fixture, "x-rss-crit-4.2.txt"), "w") as f:
        f.write(rss(gold))
    print("wrote", fixture)
