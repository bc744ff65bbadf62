#!/usr/bin/env bash
# scalerl report end to end: a run's page and a sweep's, each a well-formed XHTML file (python's
# XML parser) with no script and nothing fetched, loaded in a real browser (headless Chromium,
# Debian's `chromium`: installed here when root and missing, as the Makefile installs its
# libraries; otherwise a FAIL that says how) with no console error and every figure drawn. Its
# numbers are fit.json's and the run's own; its signals follow the fields the step rows have;
# text of any bytes (a label with markup, a control byte, invalid UTF-8) leaves it well-formed.
. "$(dirname "$0")/lib.sh"

# ---- the browser: present, or installed, or a FAIL naming the command
need_debian "report: chromium" chromium chromium || exit 0
need_python3 "report: python3, the XHTML parser of its checks"; PY=$PY3

# ---- a run whose label holds markup, a control byte and a byte that is not UTF-8
pretrain_base "$T/base.ckpt" $SMALL_BASE eval_n=200 eval_samples=0
# (train refuses a control byte in label=, which config.txt could not replay: the page with one,
# edited into config.txt, is checked below.)
LABEL=$'a<b>&"c\'\xff'
KEYS=(base="$T/base.ckpt" task=add:digits=1-2 steps=40 prompts_per_step=16 gens_per_prompt=4 lr=2e-4 warmup=2
      eval_n=100 eval_samples=2 eval_every=4 think_budget=16 answer_budget=4 threads=1)
train "$T/run" "${KEYS[@]}" label="$LABEL" || exit 0
out=$("$S" report "$T/run" prompts=4 threads=1 2>"$T/rep.err"); rc=$?
[ $rc -eq 0 ] && [ "$out" = "wrote $T/run/report.html" ] && pass "report on a run writes RUN/report.html and says so" \
  || fail "report on a run" "exit $rc: $out $(head -c 300 "$T/rep.err")"
R="$T/run/report.html"

# well-formed XML, the sections, no script, nothing external; numbers from fit.json and the run
"$S" fit "$T/run" cutoffs=0 >/dev/null 2>&1 || fail "fit for the comparison" "scalerl fit failed"
check "run page: well-formed XHTML with its sections, no script, nothing external" "$PY" - "$R" <<'EOF'
import sys, xml.etree.ElementTree as ET
page = open(sys.argv[1], encoding="utf-8").read()
assert page.startswith("<!DOCTYPE html>"), page[:40]
root = ET.fromstring(page.split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml"}
assert root.tag == "{http://www.w3.org/1999/xhtml}html", root.tag
h2 = [e.text for e in root.iterfind(".//h:h2", ns)]
assert h2 == ["The curve", "The recipe", "Training signals", "What RL changed"], h2
assert root.find(".//h:script", ns) is None, "a script element"
for e in root.iter():
    for k, v in e.attrib.items():
        assert not (k in ("src", "href") or k.endswith("}href")), (e.tag, k, v)
assert "\ufffd" in page and "a&lt;b&gt;&amp;&quot;c&#39;" in page, "the label's markup and bytes escaped"
EOF
check "run page: the whole run's A, B, Cmid and R0 are fit.json's" "$PY" - "$R" "$T/run/fit.json" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
fit = json.load(open(sys.argv[2], encoding="utf-8", errors="replace"))  # the label is not UTF-8
ns = {"h": "http://www.w3.org/1999/xhtml"}
rows = {r.find("h:th", ns).text: [c.text for c in r.findall("h:td", ns)] for r in root.find(".//h:table[@class='fit']", ns).findall("h:tr", ns)[1:]}
want = {"A, the ceiling": "%.4f [%.4f, %.4f]" % (fit["A"], fit["A_lo"], fit["A_hi"]),
        "B, the steepness": "%.3f [%.3f, %.3f]" % (fit["B"], fit["B_lo"], fit["B_hi"]),
        "Cmid, half the gain": "%.3g [%.3g, %.3g]" % (fit["Cmid"], fit["Cmid_lo"], fit["Cmid_hi"]),
        "R0, the start": "%.4f" % fit["R0"]}
for k, v in want.items():
    assert rows[k][0].startswith(v), (k, rows[k][0], v)
assert rows["held-out points"][1].startswith("mean |error|"), rows["held-out points"]
EOF
"$S" fit "$T/run" form=weibull save=0 json=1 cutoffs=0 >"$T/wb.json" 2>/dev/null
check "run page: the third column is the Weibull form's fit, as scalerl fit form=weibull gives it" "$PY" - "$R" "$T/wb.json" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
fit = json.loads(open(sys.argv[2], encoding="utf-8", errors="replace").readline())
ns = {"h": "http://www.w3.org/1999/xhtml"}
table = root.find(".//h:table[@class='fit']", ns).findall("h:tr", ns)
assert [c.text for c in table[0].findall("h:th", ns)][3] == "whole run, Weibull form"
rows = {r.find("h:th", ns).text: [c.text for c in r.findall("h:td", ns)] for r in table[1:]}
assert rows["A, the ceiling"][2].startswith("%.4f [%.4f, %.4f]" % (fit["A"], fit["A_lo"], fit["A_hi"])), rows["A, the ceiling"]
EOF
# An archived run (metrics.jsonl.gz and config.txt only, as bench/findings keeps them) is a run.
mkdir -p "$T/archived"
gzip -9nc "$T/run/metrics.jsonl" >"$T/archived/metrics.jsonl.gz"
cp "$T/run/config.txt" "$T/archived/"
"$S" report "$T/archived" prompts=0 >/dev/null 2>&1
check "an archived run directory (metrics.jsonl.gz) gets a run's page, not a sweep's" \
  bash -c "grep -q '<h2>The curve' '$T/archived/report.html' && ! grep -q 'Recipes compared' '$T/archived/report.html'"
check "run page: the recipe table has the 11 components, this run's loss beside the paper's" "$PY" - "$R" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml"}
rows = root.find(".//h:table[@class='recipe']", ns).findall("h:tr", ns)[1:]
assert len(rows) == 11, len(rows)
cells = {r[0].text: [c.text or "".join(c.itertext()) for c in r] for r in rows}
assert cells["loss"][2] == "CISPO, eps_max 4" and cells["loss"][4] == "same", cells["loss"]
assert cells["batch"][2] == "16 prompts x 4 completions" and cells["batch"][4] == "differs", cells["batch"]
EOF
check "run page: 4 prompts, each answered by the base model and the final checkpoint with rewards" "$PY" - "$R" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml"}
rows = root.find(".//h:table[@class='changed']", ns).findall("h:tr", ns)[1:]
assert len(rows) == 4, len(rows)
for r in rows:
    cells = r.findall("h:td", ns)
    assert cells[0].find("h:code", ns).text.startswith("^"), "a prompt"
    for c in cells[2:4]:
        items = c.findall(".//h:li", ns)
        assert len(items) == 2, len(items)  # eval_samples=2
        assert all("".join(i.itertext()).strip()[-1] in "01" for i in items), "a reward per completion"
EOF
# The base model's answers are the step-0 eval's draws: over every validation prompt their mean
# reward is that eval's pass rate (rewards are 0/1 here, with length=interrupt).
"$S" report "$T/run" out="$T/all.html" prompts=100 threads=1 >/dev/null 2>&1
check "all 100 prompts: the base and final answers score the first and last evals' pass rates" "$PY" - "$T/all.html" "$T/run/metrics.jsonl" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml"}
evals = [json.loads(l) for l in open(sys.argv[2]) if '"eval"' in l]
for col, ev in ((2, evals[0]), (3, evals[-1])):
    rewards = [float("".join(li.itertext()).split()[-1])
               for r in root.find(".//h:table[@class='changed']", ns).findall("h:tr", ns)[1:]
               for li in r.findall("h:td", ns)[col].findall(".//h:li", ns)]
    assert len(rewards) == 200, len(rewards)
    assert abs(sum(rewards) / 200 - ev["pass_rate"]) < 1e-9, (col, sum(rewards) / 200, ev["pass_rate"])
EOF

# ---- a control byte edited into config.txt's label: the page is still well-formed
mkdir -p "$T/ctl"; cp "$T/run/metrics.jsonl" "$T/run/final.ckpt" "$T/ctl/"
{ grep -v '^label=' "$T/run/config.txt"; printf 'label=a\x01<b>\xff\n'; } >"$T/ctl/config.txt"
"$S" report "$T/ctl" prompts=0 >/dev/null 2>"$T/ctl.err"
check "a control byte in config.txt's label: the page is written and well-formed" "$PY" -c "
import sys, xml.etree.ElementTree as ET
page = open(sys.argv[1], encoding='utf-8').read()
ET.fromstring(page.split('\n', 1)[1])" "$T/ctl/report.html"

# ---- signals follow the step rows' fields: a field added is drawn, a field gone is left out
mkdir -p "$T/edited"; cp "$T/run/config.txt" "$T/run/final.ckpt" "$T/edited/"
sed -E 's/"kind":"step",/"kind":"step","gen_util":0.5,/; s/"mismatch_kl":[^,]*,//' "$T/run/metrics.jsonl" >"$T/edited/metrics.jsonl"
"$S" report "$T/edited" prompts=0 >/dev/null 2>&1
caption() { grep -c "<figcaption><code>$1</code>" "$2"; }
[ "$(caption gen_util "$R")" = 0 ] && [ "$(caption gen_util "$T/edited/report.html")" = 1 ] &&
  [ "$(caption mismatch_kl "$R")" = 1 ] && [ "$(caption mismatch_kl "$T/edited/report.html")" = 0 ] &&
  pass "signals: a new step field (gen_util) gets a chart, a field gone (mismatch_kl) none" ||
  fail "signals follow the step rows' fields" "gen_util $(caption gen_util "$T/edited/report.html"), mismatch_kl $(caption mismatch_kl "$T/edited/report.html")"
check "prompts=0: no answers section" bash -c "! grep -q 'What RL changed' '$T/edited/report.html'"
# A run with nothing to fit or draw yet (its step-0 eval and two steps): notes, no empty figure.
mkdir -p "$T/young"; head -n 3 "$T/run/metrics.jsonl" >"$T/young/metrics.jsonl"; cp "$T/run/config.txt" "$T/young/"
"$S" report "$T/young" prompts=0 >/dev/null 2>&1
check "a run with nothing to fit yet: notes instead of empty figures" "$PY" - "$T/young/report.html" <<'EOF2'
import sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml", "s": "http://www.w3.org/2000/svg"}
notes = ["".join(p.itertext()) for p in root.iterfind(".//h:p[@class='note']", ns)]
assert any(n.startswith("No pass rate against RL compute to draw") for n in notes), notes
for fig in root.iterfind(".//h:figure", ns):
    assert fig.find(".//s:svg", ns) is not None and fig.findall(".//s:*[@class='data']", ns), "an empty figure"
EOF2

# ---- a sweep's page: compare's table with verdicts, the curves overlaid, every run's signals
"$S" sweep recipes=scalerl,loo-batch seeds=2 out="$T/sweep" "${KEYS[@]}" steps=24 jobs=1 2>"$T/sweep.log" ||
  fail "sweep for the sweep page" "$(tail -n 2 "$T/sweep.log")"
out=$("$S" report "$T/sweep" out="$T/sweep.html" 2>"$T/srep.err"); rc=$?
[ $rc -eq 0 ] && pass "report on a sweep directory exits 0" || fail "report on a sweep" "exit $rc: $(head -c 300 "$T/srep.err")"
"$S" compare "$T/sweep" json=1 >"$T/compare.jsonl" 2>/dev/null
check "sweep page: compare's recipes, A and verdicts" "$PY" - "$T/sweep.html" "$T/compare.jsonl" <<'EOF'
import json, sys, xml.etree.ElementTree as ET
root = ET.fromstring(open(sys.argv[1], encoding="utf-8").read().split("\n", 1)[1])
ns = {"h": "http://www.w3.org/1999/xhtml"}
rows = [[("".join(c.itertext())) for c in r.findall("h:td", ns)]
        for r in root.find(".//h:table[@class='compare']", ns).findall("h:tr", ns)[1:]]
want = [json.loads(l) for l in open(sys.argv[2])]
assert [r[0] for r in rows] == [w["recipe"] for w in want], (rows, want)
for r, w in zip(rows, want):
    assert r[1] == "2" and r[2].startswith("%.4f" % w["A"]) and r[-1] == w["verdict"], (r, w)
figs = root.findall(".//h:figure", ns)
assert len(figs) > 1 and len(root.findall(".//h:table", ns)) == 2, len(figs)
EOF

# ---- in the browser: no console error, nothing fetched, every figure drew data; and a page
# that does err, so that the check is known to see it
printf '<!DOCTYPE html><html><body><figure><svg width="10" height="10"></svg></figure><img src="missing.png"/><script>console.error("seen")</script></body></html>\n' >"$T/bad.html"
"$PY" tests/browser_check.py "$R" "$T/sweep.html" "$T/young/report.html" "$T/bad.html" >"$T/browser.jsonl" 2>"$T/browser.err"; rc=$?
[ $rc -eq 0 ] && pass "headless Chromium loaded the pages" || fail "headless Chromium" "exit $rc: $(head -c 300 "$T/browser.err")"
check "in the browser: no console error, no exception, nothing fetched, every figure drew data" "$PY" - "$T/browser.jsonl" <<'EOF'
import json, sys
pages = [json.loads(l) for l in open(sys.argv[1])]
assert len(pages) == 4, len(pages)
for p in pages[:3]:
    assert not p["console"] and not p["exceptions"] and not p["requests"], (p["page"], p["console"], p["exceptions"], p["requests"])
    figs = p["figures"]
    assert len(figs) >= 10 or p is pages[2], (p["page"], len(figs))
    for f in figs:
        assert f["svg"] and f["width"] > 0 and f["data"] > 0 and f["drawn"] == f["data"], (p["page"], f)
bad = pages[3]
assert bad["console"] and bad["requests"] and bad["figures"][0]["drawn"] == 0, bad
EOF

# ---- the same run reported twice: the same bytes (sampling and bootstrap are seeded)
"$S" report "$T/run" out="$T/again.html" prompts=4 threads=2 >/dev/null 2>&1
check "the same run reported twice, on 1 and 2 threads: identical pages" cmp "$R" "$T/again.html"

# ---- a run validated on another spec (eval_task): its page samples that spec's prompts
train "$T/et" base="$T/base.ckpt" task=add:digits=1 eval_task=add:digits=2 steps=2 eval_every=2 eval_n=40 \
  eval_samples=2 prompts_per_step=4 gens_per_prompt=2 think_budget=16 answer_budget=4 threads=1
"$S" report "$T/et" prompts=4 threads=1 >/dev/null 2>"$T/et.err"
check "eval_task: the page's sampled prompts are eval_task's two-digit sums, not the one-digit training task's" \
  bash -c "[ \$(grep -oE '\^[0-9]+\+[0-9]+=' '$T/et/report.html' | grep -cE '^\^[0-9]{2}\+[0-9]{2}=\$') -ge 4 ] && \
           ! grep -qE '\^[0-9]\+[0-9]=' '$T/et/report.html'"

# ---- refusals: one line, exit code, nothing written
expect_error "not a directory" 2 "is not a directory" -- report "$T/nope"
expect_error "two directories" 1 "expected one directory" -- report "$T/run" "$T/sweep"
expect_error "unknown key" 1 "unknown key 'bogus'" -- report "$T/run" bogus=1
expect_error "a sweep without the baseline" 1 "baseline recipe 'nope' not found" -- report "$T/sweep" baseline=nope out="$T/no.html"
check "refusals wrote nothing" test ! -e "$T/no.html"
