# bench/run.sh's report: reads every `RESULT kind=... key=value ...` line of a `make bench` run and
# writes the table `md` (bench/results/latest.md) and the object `json` (latest.json).
# Across rounds the best figure counts: the fastest time, the highest rate (other processes on
# the machine only ever slow a measurement down). Fractions of the sgemm peak are best over best.
# Variables from run.sh: md, json, cpu, cores, date, commit, rounds, secs, load_start, load_end,
# bench_s, rl_steps.

# Values arrive as text: + 0 makes them numbers, so that comparisons are numeric.
function hi(arr, k, v) { if (!(k in arr) || v + 0 > arr[k]) arr[k] = v + 0 }
function lo(arr, k, v) { if (!(k in arr) || v + 0 < arr[k]) arr[k] = v + 0 }
function num(x) { return x == "" ? "null" : x }
function fmt(f, x) { return x == "" ? "not measured" : sprintf(f, x) }
function pct(x) { return x == "" ? "not measured" : sprintf("%.0f%%", 100 * x) }
function yes(ok) { return ok == "" ? "not measured" : ok ? "yes" : "**no**" }

/^RESULT / {
    delete f
    for (i = 2; i <= NF; i++) { eq = index($i, "="); f[substr($i, 1, eq - 1)] = substr($i, eq + 1) }
    k = f["kind"]
    if (k == "peak") hi(peak, f["threads"], f["gflops"])
    else if (k == "openblas") { blas_version = f["version"]; blas_core = f["core"] }
    else if (k == "train" || k == "decode") {
        key = k " " f["d"] " " f["L"] " " f["threads"]
        # The share of time in the products comes with the best measurement's round.
        if (!(key in gflops) || f["gflops"] + 0 > gflops[key]) share[key] = f["products_share"]
        hi(gflops, key, f["gflops"]); hi(tok_s, key, f["tokens_per_s"]); hi(prod, key, f["products_gflops"])
        if (!(key in seen_shape)) { seen_shape[key] = 1; shape_order[++n_shape] = key }
    }
    else if (k == "rl_step" || k == "torch_rl_step") {
        impl = k == "rl_step" ? "c" : "torch"
        th = f["threads"]; threads_of[impl, th] = 1
        lo(ms, impl " generate " th, f["generate_ms"])
        lo(ms, impl " train " th, f["train_ms"])
        if (impl == "torch") torch_tokens = f["new_tokens"]
    }
    else if (k == "rl_batch") { rl_rows = f["rows"]; rl_tokens = f["tokens"] }
    else if (k == "torch_rl_check") {
        loss_c = f["loss_c"]; loss_t = f["loss_torch"]; grad_c = f["grad_norm_c"]; grad_t = f["grad_norm_torch"]
        hi(worst, "loss", f["loss_rel"]); hi(worst, "grad", f["grad_rel"]); hi(worst, "mism", f["reward_mismatches"])
        loss_rtol = f["loss_rtol"] + 0; grad_rtol = f["grad_rtol"] + 0
    }
    else if (k == "schedule") {
        key = f["name"] " " f["cores"]; hi(rate, key, f["steps_per_s"])
        if (!(key in seen_sched)) { seen_sched[key] = 1; sched_order[++n_sched] = key }
    }
    else if (k == "torch_train") hi(torch_tok, f["d"] " " f["L"] " " f["threads"], f["tokens_per_s"])
    else if (k == "measured" && f["label"] == "make_run") { run_wall = f["wall_s"] + 0; run_rss = f["peak_rss_mb"] + 0 }
}

# The best thread count of implementation impl for a phase ("total": the sum of the phases).
function best_ms(impl, phase,    th, t, b) {
    b = ""
    for (th = 1; th <= 64; th++) {
        if (!((impl, th) in threads_of)) continue
        t = phase == "total" ? ms[impl " generate " th] + ms[impl " train " th] : ms[impl " " phase " " th]
        if (b == "" || t < b) { b = t; best_th[impl, phase] = th }
    }
    return b
}

function row(name, value, ref, ratio, target, met) {
    printf "| %s | %s | %s | %s | %s | %s |\n", name, value, ref, ratio, target, met > md
}

END {
    peak1 = peak[1]; peak2 = peak[2]
    d128 = ("decode 128 4 2" in gflops) && peak2 > 0 ? gflops["decode 128 4 2"] / peak2 : ""
    t64 = ("train 64 2 2" in gflops) && peak2 > 0 ? gflops["train 64 2 2"] / peak2 : ""
    c_total = best_ms("c", "total"); t_total = best_ms("torch", "total")
    speedup = c_total != "" && t_total != "" && c_total > 0 ? t_total / c_total : ""
    check_ok = worst["loss"] == "" ? "" : (worst["loss"] <= loss_rtol && worst["grad"] <= grad_rtol && worst["mism"] == 0)
    sync2 = rate["sync 2"]; thr2 = rate["pipeline-8-threads 2"]; sync1 = rate["sync 1"]; thr1 = rate["pipeline-8-threads 1"]
    pipe2 = sync2 > 0 && thr2 != "" ? thr2 / sync2 : ""
    pipe1 = sync1 > 0 && thr1 != "" ? thr1 / sync1 : ""

    print "# `make bench` results" > md
    print "" > md
    printf "%s, commit %s: %s, %s cores, OpenBLAS %s (%s kernels). Load average %s at the start, %s at the end " \
           "(other processes on the machine slow every figure down). Each figure is the best of %s rounds of at " \
           "least %s s (`BENCH_ROUNDS`, `SECONDS_PER_MEASUREMENT`); the whole bench took %d s.\n", date, commit, cpu,
           cores, blas_version, blas_core, load_start, load_end, rounds, secs, bench_s > md
    print "" > md
    print "| measurement | value | reference | ratio | target | met |" > md
    print "|---|---|---|---|---|---|" > md
    row("RL step of the default run, C vs PyTorch (each at its best thread count)",
        fmt("%.1f ms", c_total) (c_total != "" ? " (" best_th["c", "total"] " thr)" : ""),
        "PyTorch " fmt("%.1f ms", t_total) (t_total != "" ? " (" best_th["torch", "total"] " thr)" : ""),
        fmt("%.2fx", speedup), ">= 10x", speedup == "" ? "not measured" : yes(speedup >= 10))
    split("generate train", phases, " ")
    for (i = 1; i <= 2; i++) {
        c = best_ms("c", phases[i]); t = best_ms("torch", phases[i])
        row("&nbsp;&nbsp;" phases[i], fmt("%.1f ms", c) (c != "" ? " (" best_th["c", phases[i]] " thr)" : ""),
            "PyTorch " fmt("%.1f ms", t) (t != "" ? " (" best_th["torch", phases[i]] " thr)" : ""),
            c != "" && t != "" && c > 0 ? sprintf("%.1fx", t / c) : "", "", "")
    }
    row("RL step loss on the C batch, C vs PyTorch (relative difference)", fmt("%.9g", loss_c), fmt("%.9g", loss_t),
        fmt("%.2g", worst["loss"]), loss_rtol == "" ? "" : "<= " loss_rtol, yes(check_ok == "" ? "" : worst["loss"] <= loss_rtol))
    row("&nbsp;&nbsp;gradient norm before clipping", fmt("%.9g", grad_c), fmt("%.9g", grad_t), fmt("%.2g", worst["grad"]),
        grad_rtol == "" ? "" : "<= " grad_rtol, yes(check_ok == "" ? "" : worst["grad"] <= grad_rtol))
    row("&nbsp;&nbsp;rewards: Python verifier on the C completions", worst["mism"] == "" ? "not measured" : worst["mism"] " differ",
        "C verifier", "", "0", yes(worst["mism"] == "" ? "" : worst["mism"] == 0))
    row("PipelineRL-8 schedule=threads vs sync, steps/s, 2 cores", fmt("%.1f", thr2), "sync " fmt("%.1f", sync2),
        fmt("%.2fx", pipe2), ">= 1.1x", pipe2 == "" ? "not measured" : yes(pipe2 >= 1.1))
    row("&nbsp;&nbsp;the same on 1 core", fmt("%.1f", thr1), "sync " fmt("%.1f", sync1), fmt("%.2fx", pipe1), "", "")
    row("decode d128 L4, 2 threads, fraction of the sgemm peak", fmt("%.1f GFLOP/s", gflops["decode 128 4 2"]),
        "sgemm peak " fmt("%.1f GFLOP/s", peak2), pct(d128), ">= 65%", d128 == "" ? "not measured" : yes(d128 >= 0.65))
    row("train d64 L2, 2 threads, fraction of the sgemm peak", fmt("%.1f GFLOP/s", gflops["train 64 2 2"]),
        "sgemm peak " fmt("%.1f GFLOP/s", peak2), pct(t64), ">= 65%", t64 == "" ? "not measured" : yes(t64 >= 0.65))
    row("`make run` peak resident memory (largest process)", fmt("%.0f MB", run_rss), "", "", "< 1024 MB",
        run_rss == "" ? "not measured" : yes(run_rss < 1024))
    row("`make run` wall time, from a warm build (pretraining included)", fmt("%.0f s", run_wall), "", "", "< 60 s",
        run_wall == "" ? "not measured" : yes(run_wall < 60))
    print "" > md

    print "Transformer core (`build/bench/bench_model`), best of the rounds; sgemm 1536^3 peak " \
          fmt("%.1f", peak1) " GFLOP/s on 1 thread, " fmt("%.1f", peak2) " on 2. \"Products alone\": the " \
          "measurement's matrix products with nothing else (bench/README.md); \"time in products\": the share " \
          "of the measurement's time they would take at that speed:" > md
    print "" > md
    print "| measurement | threads | tokens/s | GFLOP/s | % of peak | products alone, % of peak | time in products | PyTorch tokens/s | C / PyTorch |" > md
    print "|---|---|---|---|---|---|---|---|---|" > md
    for (i = 1; i <= n_shape; i++) {
        split(shape_order[i], p, " "); key = shape_order[i]; tk = p[2] " " p[3] " " p[4]
        tt = p[1] == "train" && (tk in torch_tok) ? torch_tok[tk] : ""
        printf "| %s d%s L%s | %s | %.0f | %.1f | %.0f%% | %.0f%% | %.0f%% | %s | %s |\n", p[1], p[2], p[3], p[4],
               tok_s[key], gflops[key], 100 * gflops[key] / peak[p[4]], 100 * prod[key] / peak[p[4]], 100 * share[key],
               tt == "" ? "" : sprintf("%.0f", tt), tt == "" ? "" : sprintf("%.2f", tok_s[key] / tt) > md
    }
    print "" > md
    printf "RL steps/s of `scalerl train` (%s steps of the default run, rate over the second half), best of the " \
           "rounds; 1 core is `taskset -c 0`:\n\n", rl_steps > md
    print "| schedule | cores | steps/s | vs sync on as many cores |" > md
    print "|---|---|---|---|" > md
    for (i = 1; i <= n_sched; i++) {
        split(sched_order[i], p, " ")
        s = rate["sync " p[2]]
        printf "| %s | %s | %.1f | %s |\n", p[1], p[2], rate[sched_order[i]],
               (s > 0 ? sprintf("%.2f", rate[sched_order[i]] / s) : "") > md
    }
    if (rl_rows != "") {
        print "" > md
        printf "The RL step's batch: %s trained rows, %s loss tokens (C generator); PyTorch's own generation averaged " \
               "%s new tokens per completion.\n", rl_rows, rl_tokens, torch_tokens == "" ? "-" : torch_tokens > md
    }

    printf "{\"date\": \"%s\", \"commit\": \"%s\", \"cpu\": \"%s\", \"cores\": %s, ", date, commit, cpu, cores > json
    printf "\"openblas_version\": \"%s\", \"openblas_core\": \"%s\", \"rounds\": %s, \"load_start\": %s, \"load_end\": %s, ",
           blas_version, blas_core, rounds, num(load_start), num(load_end) > json
    printf "\"sgemm_peak_gflops\": %s, \"sgemm_peak_gflops_1thread\": %s, ", num(peak2), num(peak1) > json
    printf "\"rl_step_c_ms\": %s, \"rl_step_torch_ms\": %s, \"rl_step_c_over_torch\": %s, ", num(c_total), num(t_total),
           num(speedup) > json
    printf "\"rl_step_loss_rel_diff\": %s, \"rl_step_grad_norm_rel_diff\": %s, \"rl_step_check_ok\": %s, ",
           num(worst["loss"]), num(worst["grad"]), check_ok == "" ? "null" : check_ok ? "true" : "false" > json
    printf "\"pipeline_threads_steps_per_s\": %s, \"sync_steps_per_s\": %s, \"pipeline_threads_over_sync\": %s, ",
           num(thr2), num(sync2), num(pipe2) > json
    printf "\"pipeline_threads_over_sync_1core\": %s, ", num(pipe1) > json
    printf "\"decode_d128_peak_frac\": %s, \"train_d64_peak_frac\": %s, ", num(d128), num(t64) > json
    printf "\"make_run_wall_s\": %s, \"make_run_peak_rss_mb\": %s}\n", num(run_wall), num(run_rss) > json
    if (close(md) != 0 || close(json) != 0) exit 2
}
