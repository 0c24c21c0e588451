#!/usr/bin/python3
"""Extraction fidelity: labelscan's text against established extractors.

    nice -n 19 tools/fidelity.py [--corpus DIR] [--out DIR] [--jobs N]
                                 [--timeout S] [--only FAMILY,...] [--refresh]
                                 [--worst N] [--labelscan TEXT_DUMP_BINARY]

For every document of the corpus (default ../shared/corpus/realworld) it
reads labelscan's text (`cargo run --release --example text_dump -- FILE`,
built first unless --labelscan names the binary) and the text of reference
extractors, and measures the recall of the reference's tokens: runs of
letters and digits that contain at least one letter, after NFKC, casefold
and removing invisible format characters, counted as a multiset (a token
the reference has 3 times and labelscan once counts 1 of 3); the set recall
is shown beside it. Files are grouped into families by extension.

References (Debian packages), the first one that reads the file is used
(the CSV names it):
  pdf                        pdftotext (poppler-utils), else pdfminer
                             (python3-pdfminer, pdf2txt)
  docx/docm odt rtf          LibreOffice headless, text export
  xlsx/xlsm ods              LibreOffice headless, CSV of every sheet,
                             cells as shown
  pptx/pptm odp              LibreOffice headless, converted to ODP, all text
                             of slides, notes and comments (not pictures'
                             alt text, slide numbers, dates and times)
  doc xls ppt                Apache POI (libapache-poi-java, through
                             tools/PoiText.java, compiled with javac), else
                             LibreOffice as above
Secondary rows: PDF against pdfminer and against the tokens both PDF
references emit (their multiset intersection); doc/xls/ppt against
LibreOffice.

Writes into --out (default /tmp/fidelity): table.md (per family: files,
scored, reference failures, mean and median recall, files below 0.9),
worst.csv (the worst files of each family with the reference used and the
most frequent missing tokens), files.csv (every file and every reference),
failures.csv (reference tools that failed or timed out), labelscan/KEY.txt
(labelscan's text) and cache/KEY.TOOL.json (reference texts, reused by later
runs unless --refresh). Each tool gets --timeout seconds per file.
"""

import argparse
import csv
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import unicodedata
import xml.etree.ElementTree as ET
import zipfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAMILY = {
    "pdf": "pdf", "docx": "docx", "docm": "docx", "dotx": "docx",
    "xlsx": "xlsx", "xlsm": "xlsx", "pptx": "pptx", "pptm": "pptx",
    "odt": "odf", "ods": "odf", "odp": "odf",
    "doc": "doc", "xls": "xls", "ppt": "ppt", "rtf": "rtf",
}
APP = {
    "docx": "writer", "docm": "writer", "dotx": "writer", "odt": "writer",
    "rtf": "writer", "doc": "writer", "xlsx": "calc", "xlsm": "calc",
    "ods": "calc", "xls": "calc", "pptx": "impress", "pptm": "impress",
    "odp": "impress", "ppt": "impress",
}
FAMILY_ORDER = ["pdf", "docx", "xlsx", "pptx", "odf", "doc", "xls", "ppt", "rtf"]
GOAL = {"pdf": 0.92}
DEFAULT_GOAL = 0.97
# Every sheet (-1), UTF-8 (76), cells as shown (9th token true).
CSV_FILTER = "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true,false,false,-1"
WRITER_FILTER = "txt:Text (encoded):UTF8"
POI_JARS = ["poi", "poi-scratchpad", "commons-collections4", "commons-math3",
            "commons-codec", "commons-compress"]
BATCH = 20  # files per LibreOffice or POI process
BATCH_SECONDS = 15  # a batch's timeout: --timeout plus this per file
TEXT_NS = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
TOKEN = re.compile(r"[^\W_]+")
SVG_NS = "{urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0}"
DC_NS = "{http://purl.org/dc/elements/1.1/}"
# Not text of the document: pictures' alt text, and fields LibreOffice
# fills in itself (slide number as "<number>", today's date and time).
ODF_SKIP = {SVG_NS + "title", SVG_NS + "desc", TEXT_NS + "page-number", TEXT_NS + "date",
            TEXT_NS + "time", DC_NS + "date"}
# Invisible format characters: soft hyphen, zero-width space and joiners,
# bidi marks, BOM. POI writes Word's optional breaks as U+200B inside words.
INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
PDFMINER_CID = re.compile(r"\(cid:\d+\)")


class RefError(Exception):
    """A reference tool that did not give text: status is failed or timeout."""

    def __init__(self, status, detail=""):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def run(cmd, timeout):
    """stdout of cmd; the whole process group is killed on timeout."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise RefError("timeout", f"over {timeout} s")
    if proc.returncode != 0:
        last = err.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise RefError("failed", f"exit {proc.returncode}: {last[0][:200]}")
    return out, err


# ---- tokens and recall ----------------------------------------------------

def tokens(text):
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    return Counter(t for t in TOKEN.findall(text) if any(c.isalpha() for c in t))


def recall(ref, got):
    """(multiset recall, set recall) of ref's tokens in got; None without ref."""
    total = sum(ref.values())
    if total == 0:
        return None, None
    found = sum(min(n, got[t]) for t, n in ref.items())
    return found / total, sum(1 for t in ref if t in got) / len(ref)


def missing_sample(ref, got, n=10):
    return " ".join(f"{t}x{c}" if c > 1 else t for t, c in (ref - got).most_common(n))


# ---- reference tools ------------------------------------------------------

class Tools:
    """Locates the reference tools and runs them with a per-file timeout."""

    def __init__(self, out, timeout):
        self.out = out
        self.timeout = timeout
        self.soffice = shutil.which("soffice") or shutil.which("libreoffice")
        self.pdf2txt = shutil.which("pdf2txt") or shutil.which("pdf2txt.py")
        self.local = threading.local()
        self.profiles = 0
        self.lock = threading.Lock()
        self.poi_cp = self.compile_poi()

    def compile_poi(self):
        jars = [Path(f"/usr/share/java/{j}.jar") for j in POI_JARS]
        if not jars[0].exists() or not shutil.which("javac"):
            return None
        classes = self.out / "java"
        classes.mkdir(parents=True, exist_ok=True)
        cp = ":".join(str(j) for j in jars if j.exists())
        source, compiled = REPO / "tools" / "PoiText.java", classes / "PoiText.class"
        if not compiled.exists() or compiled.stat().st_mtime < source.stat().st_mtime:
            subprocess.run(["javac", "-nowarn", "-cp", cp, "-d", str(classes), str(source)],
                           check=True)
        return f"{cp}:{classes}"

    def missing(self):
        names = {"pdftotext": shutil.which("pdftotext"), "pdfminer": self.pdf2txt,
                 "libreoffice": self.soffice, "poi": self.poi_cp}
        return [n for n, found in names.items() if not found]

    def profile(self):
        """One LibreOffice profile per worker thread: instances must not share one."""
        if not hasattr(self.local, "profile"):
            with self.lock:
                self.profiles += 1
                self.local.profile = self.out / f"lo-profile-{self.profiles}"
        return self.local.profile

    def reference(self, tool, path, ext, key):
        """{'status': ok|failed|timeout, 'text', 'detail'} of one tool on one file."""
        try:
            if tool == "pdftotext":
                cmd = ["pdftotext", "-q", "-enc", "UTF-8", str(path), "-"]
            elif tool == "pdfminer":
                cmd = [self.pdf2txt, str(path)]
            else:
                found = self.convert([(path, ext, key)], tool, self.timeout)
                return found.get(key) or result("timeout", detail=f"over {self.timeout} s")
            text = run(cmd, self.timeout)[0].decode("utf-8", "replace")
            if tool == "pdfminer":
                text = PDFMINER_CID.sub(" ", text)  # a glyph without Unicode, not text
            return result("ok", text)
        except RefError as e:
            return result(e.status, detail=e.detail)

    def convert(self, items, tool, timeout):
        """Runs LibreOffice or POI once over (path, ext, key) items of one kind:
        {key: result} for every item, except those a timeout cut off."""
        with tempfile.TemporaryDirectory(dir=self.out) as tmp:
            src, dst = Path(tmp, "in"), Path(tmp, "out")
            src.mkdir()
            dst.mkdir()
            links = []
            for path, ext, key in items:
                links.append(src / f"{key}.{ext}")
                links[-1].symlink_to(path)
            complete = True
            try:
                run(self.command(tool, items[0][1], dst, links), timeout)
            except RefError as e:
                complete = e.status != "timeout"  # a batch's exit status is no file's
                if not complete and tool == "libreoffice":
                    (self.profile() / ".lock").unlink(missing_ok=True)
            found = {}
            for path, ext, key in items:
                got = self.collect(tool, dst, key, ext, complete)
                if got:
                    found[key] = got
            return found

    def command(self, tool, ext, dst, links):
        if tool == "poi":
            return ["java", "-Djava.awt.headless=true", "-XX:TieredStopAtLevel=1", "-cp",
                    self.poi_cp, "PoiText", str(dst)] + [str(p) for p in links]
        target = {"writer": WRITER_FILTER, "calc": CSV_FILTER, "impress": "odp"}[APP[ext]]
        return [self.soffice, f"-env:UserInstallation={self.profile().as_uri()}",
                "--headless", "--norestore", "--convert-to", target,
                "--outdir", str(dst)] + [str(p) for p in links]

    @staticmethod
    def collect(tool, dst, key, ext, complete):
        """One item's result from a run's output folder; None if it was cut off."""
        if tool == "poi":
            for suffix, status in ((".txt", "ok"), (".err", "failed")):
                out = dst / f"{key}.{ext}{suffix}"
                if out.exists():
                    text = out.read_text("utf-8", "replace")
                    if status == "ok":
                        return result("ok", text)
                    return result("failed", detail=text[:200])
        else:
            outputs = sorted(dst.glob(f"{key}[.-]*"))
            if outputs and APP[ext] == "impress":
                try:
                    return result("ok", odf_text(outputs[0]))
                except (zipfile.BadZipFile, KeyError, ET.ParseError) as e:
                    return result("failed", detail=f"unreadable ODP: {e}")
            if outputs:
                return result("ok", "\n".join(p.read_text("utf-8", "replace") for p in outputs))
        return result("failed", detail=f"{tool} wrote nothing") if complete else None


def result(status, text="", detail=""):
    return {"status": status, "text": text, "detail": detail}


def odf_text(path):
    """All text of an ODF package's content.xml, paragraphs on lines."""
    with zipfile.ZipFile(path) as z:
        root = ET.fromstring(z.read("content.xml"))
    out = []
    walk_odf(root, out)
    return "".join(out)


def walk_odf(elem, out):
    if elem.tag in ODF_SKIP:
        return
    if elem.tag in (TEXT_NS + "s", TEXT_NS + "tab", TEXT_NS + "line-break"):
        out.append(" ")
    if elem.text:
        out.append(elem.text)
    for child in elem:
        walk_odf(child, out)
        if child.tail:
            out.append(child.tail)
    if elem.tag in (TEXT_NS + "p", TEXT_NS + "h", DC_NS + "creator"):
        out.append("\n")


def references(ext):
    """Reference tools for a file, primary first."""
    if ext == "pdf":
        return ["pdftotext", "pdfminer"]
    if ext in ("doc", "xls", "ppt"):
        return ["poi", "libreoffice"]
    return ["libreoffice"]


class Cache:
    """Reference results per (file content, tool), as JSON files."""

    def __init__(self, folder, refresh):
        self.folder = folder
        self.refresh = refresh
        self.written = set()

    def path(self, key, tool):
        return self.folder / f"{key}.{tool}.json"

    def get(self, key, tool):
        p = self.path(key, tool)
        if p.exists() and (not self.refresh or (key, tool) in self.written):
            return json.loads(p.read_text("utf-8"))
        return None

    def put(self, key, tool, value):
        self.path(key, tool).write_text(json.dumps(value), "utf-8")
        self.written.add((key, tool))


def cached_reference(ctx, tool, path, ext, key):
    got = ctx.cache.get(key, tool)
    if got is None:
        if tool in ctx.missing:
            return result("missing", detail=f"{tool} not installed")
        got = ctx.tools.reference(tool, path, ext, key)
        ctx.cache.put(key, tool, got)
    return got


def prefill(files, ctx):
    """LibreOffice and POI start slowly: convert files in batches of BATCH, one
    process per batch. A batch cut off by its timeout leaves its remaining
    files to the per-file run."""
    groups = {}
    for path in files:
        ext, key = extension(path), ctx.key(path)
        for tool in references(ext):
            if tool in ("poi", "libreoffice") and tool not in ctx.missing \
                    and ctx.cache.get(key, tool) is None:
                groups.setdefault((tool, APP[ext]), {})[key] = (path, ext, key)
    for (tool, app), items in groups.items():
        items = list(items.values())
        for i in range(0, len(items), BATCH):
            batch = items[i:i + BATCH]
            print(f"  {tool} ({app}): {i + len(batch)}/{len(items)}", file=sys.stderr, flush=True)
            found = ctx.tools.convert(batch, tool, ctx.args.timeout + BATCH_SECONDS * len(batch))
            for key, got in found.items():
                ctx.cache.put(key, tool, got)


# ---- labelscan ------------------------------------------------------------

def build_text_dump():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "text_dump"],
                   cwd=REPO, check=True)
    return REPO / "target" / "release" / "examples" / "text_dump"


def labelscan_text(binary, path, timeout):
    """(text, status): status is labelscan's error kind, '-' when read."""
    try:
        out, err = run([str(binary), str(path)], timeout)
    except RefError as e:
        return "", f"{e.status} ({e.detail})"
    status = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
    error = re.search(r"error=(\S+)", status[0])
    return out.decode("utf-8", "replace"), error.group(1) if error else status[0]


# ---- one file -------------------------------------------------------------

def extension(path):
    return path.suffix.lower().lstrip(".")


def measure(path, ctx):
    ext, key = extension(path), ctx.key(path)
    text, ls_status = labelscan_text(ctx.binary, path, ctx.args.timeout)
    (ctx.out / "labelscan" / f"{key}.txt").write_text(text, "utf-8")
    got = tokens(text)
    row = {"family": FAMILY[ext], "path": str(path.relative_to(ctx.corpus)), "key": key,
           "labelscan": ls_status, "refs": {}}
    for tool in references(ext):
        ref = cached_reference(ctx, tool, path, ext, key)
        row["refs"][tool] = score(ref, got)
    if ext == "pdf":
        row["refs"]["agreed"] = agreed(row["refs"], got)
    row["primary"] = pick_primary(row["refs"], references(ext))
    return row


def pick_primary(refs, order):
    """The first reference with text, else the first that read the file, else the first."""
    for usable in (lambda r: r["recall"] is not None, lambda r: r["status"] == "ok"):
        for tool in order:
            if usable(refs[tool]):
                return tool
    return order[0]


def score(ref, got):
    toks = tokens(ref["text"])
    multi, single = recall(toks, got)
    return {"status": ref["status"], "detail": ref["detail"], "tokens": sum(toks.values()),
            "recall": multi, "set_recall": single, "missing": missing_sample(toks, got),
            "missing_count": sum((toks - got).values()), "_toks": toks}


def agreed(refs, got):
    """Score against the tokens both PDF references emit."""
    a, b = refs["pdftotext"], refs["pdfminer"]
    if a["status"] != "ok" or b["status"] != "ok":
        return {"status": "failed", "detail": "a PDF reference failed", "tokens": 0,
                "recall": None, "set_recall": None, "missing": "", "missing_count": 0,
                "_toks": Counter()}
    both = a["_toks"] & b["_toks"]
    multi, single = recall(both, got)
    return {"status": "ok", "detail": "", "tokens": sum(both.values()), "recall": multi,
            "set_recall": single, "missing": missing_sample(both, got),
            "missing_count": sum((both - got).values()), "_toks": both}


# ---- the whole corpus -----------------------------------------------------

def corpus_files(corpus, only):
    files = []
    for dirpath, _, names in os.walk(corpus):
        for name in names:
            ext = extension(Path(name))
            if ext in FAMILY and (not only or FAMILY[ext] in only):
                files.append(Path(dirpath) / name)
    return sorted(files)


def run_all(files, ctx):
    rows = []
    with ThreadPoolExecutor(max_workers=ctx.args.jobs) as pool:
        for i, row in enumerate(pool.map(lambda p: measure(p, ctx), files), 1):
            rows.append(row)
            if i % 25 == 0 or i == len(files):
                print(f"  {i}/{len(files)} files", file=sys.stderr, flush=True)
    for row in rows:
        for ref in row["refs"].values():
            ref.pop("_toks", None)
    return rows


def family_line(name, rows, tool_of):
    """One table row: tool_of(row) names the reference scored, or None."""
    scores, failed, empty = [], 0, 0
    for row in rows:
        tool = tool_of(row)
        ref = row["refs"].get(tool) if tool else None
        if ref is None or ref["status"] != "ok":
            failed += 1
        elif ref["recall"] is None:
            empty += 1
        else:
            scores.append((ref["recall"], ref["set_recall"]))
    multi = [s[0] for s in scores]
    mean = statistics.fmean(multi) if multi else float("nan")
    set_mean = statistics.fmean(s[1] for s in scores) if scores else float("nan")
    median = statistics.median(multi) if multi else float("nan")
    below = sum(1 for m in multi if m < 0.9)
    return (f"| {name} | {len(rows)} | {len(scores)} | {failed} | {empty} | "
            f"{mean:.3f} | {set_mean:.3f} | {median:.3f} | {below} |")


def table(rows):
    lines = ["| family | files | scored | reference failed | no reference text | "
             "mean recall | mean set recall | median | files < 0.9 |",
             "|---|---|---|---|---|---|---|---|---|"]
    by_family = {f: [r for r in rows if r["family"] == f] for f in FAMILY_ORDER}
    for fam, frows in by_family.items():
        if frows:
            goal = GOAL.get(fam, DEFAULT_GOAL)
            lines.append(family_line(f"{fam} (goal {goal})", frows, lambda r: r["primary"]))
    extra = [("pdf vs pdfminer", "pdf", "pdfminer"),
             ("pdf, tokens both PDF references emit (goal 0.99)", "pdf", "agreed"),
             ("doc vs LibreOffice", "doc", "libreoffice"),
             ("xls vs LibreOffice", "xls", "libreoffice"),
             ("ppt vs LibreOffice", "ppt", "libreoffice")]
    for name, fam, tool in extra:
        if by_family.get(fam):
            lines.append(family_line(name, by_family[fam], lambda r, t=tool: t))
    return "\n".join(lines) + "\n"


def csv_rows(rows, only_primary):
    for row in rows:
        for tool, ref in row["refs"].items():
            if only_primary and tool != row["primary"]:
                continue
            yield {"family": row["family"], "recall": fmt(ref["recall"]),
                   "set_recall": fmt(ref["set_recall"]), "reference": tool,
                   "ref_status": ref["status"], "ref_tokens": ref["tokens"],
                   "missing_tokens": ref["missing_count"], "labelscan": row["labelscan"],
                   "path": row["path"], "key": row["key"], "missing_sample": ref["missing"]}


def fmt(x):
    return "" if x is None else f"{x:.3f}"


def write_csv(path, rows):
    fields = ["family", "recall", "set_recall", "reference", "ref_status", "ref_tokens",
              "missing_tokens", "labelscan", "path", "key", "missing_sample"]
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def worst(rows, per_family):
    scored = [r for r in csv_rows(rows, True) if r["recall"]]
    out = []
    for fam in FAMILY_ORDER:
        frows = sorted((r for r in scored if r["family"] == fam),
                       key=lambda r: (float(r["recall"]), -r["missing_tokens"]))
        out += [r for r in frows if float(r["recall"]) < 1.0][:per_family]
    return out


def failures(rows):
    return [{"family": r["family"], "reference": t, "status": ref["status"],
             "detail": ref["detail"], "path": r["path"]}
            for r in rows for t, ref in r["refs"].items()
            if ref["status"] not in ("ok",) and t != "agreed"]


def write_outputs(rows, out, per_family):
    text = table(rows)
    (out / "table.md").write_text(text, "utf-8")
    write_csv(out / "files.csv", csv_rows(rows, False))
    write_csv(out / "worst.csv", worst(rows, per_family))
    fails = failures(rows)
    with open(out / "failures.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["family", "reference", "status", "detail", "path"])
        w.writeheader()
        w.writerows(fails)
    print(text)
    counts = Counter((f["reference"], f["status"]) for f in fails)
    summary = ", ".join(f"{t} {s} {n}" for (t, s), n in sorted(counts.items()))
    fallback = sum(1 for r in rows if r["primary"] != references_of(r)[0])
    print(f"reference failures: {summary or 'none'}; fallback reference used for "
          f"{fallback} files (files.csv, failures.csv, worst.csv in {out})")


def references_of(row):
    return references(extension(Path(row["path"])))


class Context:
    def __init__(self, args):
        self.args = args
        self.corpus = Path(args.corpus).resolve()
        self.out = Path(args.out).resolve()
        for sub in ("cache", "labelscan"):
            (self.out / sub).mkdir(parents=True, exist_ok=True)
        self.tools = Tools(self.out, args.timeout)
        self.missing = self.tools.missing()
        self.cache = Cache(self.out / "cache", args.refresh)
        self.keys = {}
        self.binary = Path(args.labelscan) if args.labelscan else build_text_dump()

    def key(self, path):
        """Files are known by their content: a copy elsewhere shares its references."""
        if path not in self.keys:
            self.keys[path] = hashlib.sha1(path.read_bytes()).hexdigest()[:16]
        return self.keys[path]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", default=str(REPO.parent / "shared" / "corpus" / "realworld"))
    p.add_argument("--out", default="/tmp/fidelity")
    p.add_argument("--jobs", type=int, default=1)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds per tool and file")
    p.add_argument("--only", default="", help="families, comma-separated (pdf,docx,...)")
    p.add_argument("--refresh", action="store_true", help="rerun the reference tools")
    p.add_argument("--worst", type=int, default=25, help="rows per family in worst.csv")
    p.add_argument("--labelscan", default="", help="text_dump binary (default: build it)")
    args = p.parse_args()
    ctx = Context(args)
    if ctx.missing:
        print(f"not installed (files needing them count as reference failures): "
              f"{', '.join(ctx.missing)}", file=sys.stderr)
    files = corpus_files(ctx.corpus, set(filter(None, args.only.split(","))))
    print(f"{len(files)} files under {ctx.corpus}", file=sys.stderr)
    prefill(files, ctx)
    write_outputs(run_all(files, ctx), ctx.out, args.worst)


if __name__ == "__main__":
    main()
