"""Tables from results.jsonl (the last row per variant and problem).

``summarize.py [FILTER ...]``: plain rows whose variant or problem contains a filter.
``summarize.py --md``: the markdown tables of RESULTS.md (anchors, then SGNS variants),
one column group per problem.
"""
import json
import sys

from harness import LOG

PROBLEMS = ["full/s0", "full/s1", "seed200/s0", "seed200/s1"]


def load():
    rows = {}
    for line in open(LOG):
        r = json.loads(line)
        rows[(r["variant"], r["problem"])] = r
    return rows


def markdown(rows, problems=PROBLEMS, suffix="") -> str:
    out = []
    for kind, title in (("anchor", "Anchors"), ("sgns", "SGNS variants"),
                        ("mix", "Mixtures with a count prior"), ("gensim", "gensim"),
                        ("ttq", "Time to quality (one back-to-back run)")):
        variants = []
        for (v, p), r in rows.items():
            if r.get("kind") == kind and p in problems and v not in variants:
                variants.append(v)
        if not variants:
            continue
        out.append(f"### {title}{suffix}\n")
        head = "| variant | settings | " + " | ".join(
            f"{p} HR@10 | MRR@10 | train s" for p in problems) + " |"
        out.append(head)
        out.append("|" + "---|" * (2 + 3 * len(problems)))
        for v in variants:
            spec = next((rows[(v, p)].get("spec", "") for p in problems if (v, p) in rows), "")
            cells = []
            for p in problems:
                r = rows.get((v, p))
                if r is None:
                    cells += ["", "", ""]
                else:
                    t = f"{r['train_s']:.0f}" if "train_s" in r else ""
                    cells += [f"{r['hr10']:.4f}", f"{r['mrr10']:.4f}", t]
            out.append(f"| {v} | {spec} | " + " | ".join(cells) + " |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    rows = load()
    if sys.argv[1:] == ["--md"]:
        print(markdown(rows))
        print(markdown(rows, ["full20k/s0", "full20k/s1"], ", 20,000 cases"))
    else:
        pat = sys.argv[1:] or [""]
        for (v, p), r in rows.items():
            if any(s in v or s in p for s in pat):
                t = f"{r['train_s']:6.1f}" if "train_s" in r else "     -"
                print(f"{p:11s} {v:44s} {r['hr10']:.4f} {r['mrr10']:.4f} {t} "
                      f"load {r['load1']}")
