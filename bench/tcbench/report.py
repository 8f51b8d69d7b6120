"""Reporting: the results table (results.md and stdout), the per-round table, the targets as
PASS/MISS lines and chart.svg."""

import math

from .backend import RATIO_OF
from .common import RSS_LIMIT_MIB
from .measure import fmt_mib


ROWS = [
    ("ceiling", "`GET /healthz` (HTTP ceiling)"),
    ("exchange", "code exchange, no `openid`"),
    ("exchange_openid", "code exchange, `openid` (RS256)"),
    ("userinfo", "`GET /v1/userinfo`"),
    ("web_profile", "`GET /v1/default` (web profile)"),
    ("refresh", "refresh grant (rotation)"),
    ("flow", "full flow: mint + exchange + userinfo"),
    ("rss256", "code exchange at 256 connections"),
    ("growth", "code exchange, {growth} tokens stored"),
    ("overload_base", "open loop at 0.5x exchange rate"),
    ("overload", "open loop at 4x exchange rate (accepted)"),
]


def ratio_of(name, r, b, ctx):
    res = ctx.results[b]
    ceil = res.get("ceiling", {}).get("rps")
    sign = (ctx.signing or {}).get("rps")
    ex = res.get("exchange", {}).get("rps")
    rps = r.get("rps")
    if not rps:
        return None, ""
    if r.get("ratio") is not None:  # divided by the ceiling of its own round
        return r["ratio"], "of signing" if name == "exchange_openid" else "of ceiling"
    if name in ("exchange", "userinfo", "web_profile", "flow", "refresh") and ceil:
        return rps / ceil, "of ceiling"
    if name == "ceiling":
        return 1.0, "of ceiling"
    if name == "exchange_openid" and sign:
        return rps / sign, "of signing"
    if name in ("growth", "rss256", "overload", "overload_base") and ex:
        return rps / ex, "of exchange"
    return None, ""


def short_count(n):
    for div, suffix in ((1_000_000, "M"), (1_000, "k")):
        if n >= div and n % (div // 10) == 0:
            return f"{n / div:g}{suffix}"
    return f"{n:,}"


def table(ctx):
    out = ["| scenario | backend | req/s | p50 | p99 | CPU % | peak RSS | ratio | non-2xx |",
           "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    if ctx.signing:
        out.append(f"| RSA-2048 signing ceiling (`openssl speed -multi {ctx.signing['processes']}`) "
                   f"| – | {ctx.signing['rps']:,.0f} sign/s | | | | | 100 % of signing | |")
    for name, label in ROWS:
        label = label.format(growth=short_count(ctx.growth_tokens))
        for b in ctx.backends:
            r = ctx.results.get(b, {}).get(name)
            if not r or r.get("rps") is None:
                continue
            ratio, what = ratio_of(name, r, b, ctx)
            if ratio is not None and r.get("ratio_range"):
                lo, hi = r["ratio_range"]
                what += f" ({100 * lo:.0f}–{100 * hi:.0f})"
            rps = f"{r['rps']:,.0f}"
            if name == "flow" and r.get("iterations_per_s") is not None:
                rps += f" ({r['iterations_per_s']:,.0f} it/s)"
            if name.startswith("overload"):
                rps += f" (+{r['shed_per_s']:,.0f} shed/s)"
            p50 = "-" if r.get("p50_ms") is None else f"{r['p50_ms']:.2f} ms"
            p99 = "-" if r.get("p99_ms") is None else f"{r['p99_ms']:.2f} ms"
            non = r.get("non2xx", 0)
            if name.startswith("overload"):
                non = f"{non} (503s expected)" if non else "0"
            out.append(f"| {label} | {b} | {rps} | {p50} | {p99} | {r.get('cpu_pct', '-')} | "
                       f"{fmt_mib(r.get('peak_rss_mib'))} | "
                       f"{'' if ratio is None else f'{100 * ratio:.0f} % {what}'} | {non} |")
    return "\n".join(out)


def rounds_table(ctx):
    """With --rounds: every round's rate and ratio, each ratio divided by its own round's
    ceiling (the main table shows the median round)."""
    if ctx.rounds <= 1:
        return ""
    out = ["| scenario | backend | " + " | ".join(f"round {k + 1}" for k in range(ctx.rounds)) + " |",
           "|---|---|" + "---:|" * ctx.rounds]
    for name, label in [("signing", "RSA-2048 signing ceiling (sign/s)")] + ROWS:
        if name not in ("ceiling", "signing") + tuple(RATIO_OF):
            continue
        for b in ctx.backends:
            r = ctx.results.get(b, {}).get(name) or {}
            cells = []
            for x in r.get("rounds", []):
                c = f"{x['rps']:,.0f}" if x.get("rps") is not None else "-"
                if x.get("ratio") is not None:
                    c += f" ({100 * x['ratio']:.0f} %)"
                cells.append(c)
            if cells:
                out.append(f"| {label} | {b} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(ctx):
    """The issue's targets as (ok, text); ok None when not measured."""
    lines = []

    def add(ok, text):
        lines.append((ok, text))

    for b in ctx.backends:
        res = ctx.results.get(b, {})
        g = lambda n, k="rps": res.get(n, {}).get(k)  # noqa: E731
        ex = g("exchange")

        def ratio(name):
            """(ratio, its round's ceiling, the rounds and their range) of a scenario
            (`combine_rounds`)."""
            r = res.get(name, {})
            if r.get("ratio") is None:
                return None, None, ""
            rng = r.get("ratio_range")
            spread = (f", median of {len(r['rounds'])} rounds, "
                      f"{100 * rng[0]:.0f}–{100 * rng[1]:.0f} %") if rng else ""
            return r["ratio"], r["ratio_of_rps"], spread

        v, den, spread = ratio("exchange")
        if b == "sqlite" and v is not None:
            add(v >= 0.5, f"{b}: exchange without openid {ex:,.0f} req/s = "
                f"{100 * v:.1f} % of the HTTP ceiling {den:,.0f}{spread} (target >= 50 %)")
        v, den, spread = ratio("exchange_openid")
        if v is not None:
            add(v >= 0.7, f"{b}: exchange with openid {g('exchange_openid'):,.0f} req/s = "
                f"{100 * v:.1f} % of the signing ceiling {den:,.0f}/s{spread} (target >= 70 %)")
        v, den, spread = ratio("userinfo")
        if v is not None:
            add(v >= 0.7, f"{b}: userinfo {g('userinfo'):,.0f} req/s = {100 * v:.1f} % of the "
                f"HTTP ceiling {den:,.0f}{spread} (target >= 70 %)")
        v, den, spread = ratio("web_profile")
        if v is not None:
            add(v >= 0.7, f"{b}: /v1/default {g('web_profile'):,.0f} req/s = {100 * v:.1f} % of "
                f"the HTTP ceiling {den:,.0f}{spread} (target >= 70 %, as userinfo)")
        rss = g("rss256", "peak_rss_mib")
        if rss is not None:
            add(rss <= RSS_LIMIT_MIB, f"{b}: peak RSS at 256 connections {rss:.1f} MiB "
                f"(target <= {RSS_LIMIT_MIB} MiB)")
        if g("growth", "vs_empty") is not None:
            v = g("growth", "vs_empty")
            add(v >= 0.8, f"{b}: exchange with {g('growth', 'seeded_live'):,} live tokens stored "
                f"{g('growth'):,.0f} req/s = {100 * v:.1f} % of the empty store (target >= 80 %)")
        sw = res.get("sweeper")
        if sw and sw.get("rows_per_s") and ex:
            add(sw["rows_per_s"] >= ex, f"{b}: sweeper deleted {sw['rows_per_s']:,.0f} expired "
                f"tokens/s at its defaults (sweep_interval={sw['sweep_interval']} s, "
                f"sweep_batch={sw['sweep_batch']}) vs. a peak issue rate of {ex:,.0f} access "
                f"tokens/s (target: at least as fast, or the store grows under sustained peak)")
        ov, base = res.get("overload"), res.get("overload_base")
        if ov:
            up = ov["healthz_after"] and not ov["health"]["failed"]
            add(up, f"{b}: overload at {ov['target_rate']:,.0f} req/s: server up, /healthz "
                f"{ov['health']['ok']}/{ov['health']['checks']} ok during the run")
            shed_ok = ov["statuses"].get("503", 0) > 0 and ov["p99_503_ms"] is not None
            base_p99 = base and base.get("p99_ms")
            add(bool(shed_ok and base_p99 and ov["p99_503_ms"] <= base_p99),
                f"{b}: overload sheds {ov['shed_per_s']:,.0f}/s with 503 temporarily_unavailable, "
                f"p99 of the 503s {ov['p99_503_ms']} ms (target: quickly, i.e. within the "
                f"unloaded p99 of a 200, {base['p99_ms'] if base else '-'} ms)")
            if base and ov.get("p99_vs_unloaded") is not None:
                add(ov["p99_vs_unloaded"] <= 5, f"{b}: overload p99 of accepted {ov['p99_ms']} ms = "
                    f"{ov['p99_vs_unloaded']} x the unloaded p99 {base['p99_ms']} ms at 0.5 x "
                    f"(target <= 5 x; max_in_flight {ov['max_in_flight']})")
            if ov.get("peak_rss_mib") is not None:
                add(ov["peak_rss_mib"] <= RSS_LIMIT_MIB, f"{b}: overload peak RSS "
                    f"{ov['peak_rss_mib']:.1f} MiB (target: bounded, <= {RSS_LIMIT_MIB} MiB)")
    bad = [p for p in ctx.problems]
    add(not any("unexpected" in p for p in bad), "zero unexpected non-2xx answers "
        f"({sum('unexpected' in p for p in bad)} scenario(s) with some)")
    return lines


def chart_svg(ctx):
    """Grouped horizontal bars: requests/s per scenario, one bar per backend, ceilings marked."""
    names = [(n, l) for n, l in ROWS if any(ctx.results.get(b, {}).get(n, {}).get("rps")
                                            for b in ctx.backends)]
    colors = {"sqlite": "#2b6cb0", "postgres": "#dd6b20"}
    bar_h, gap, left, width, top = 16, 14, 330, 560, 70
    group_h = bar_h * len(ctx.backends) + gap
    height = top + group_h * len(names) + 70
    values = [ctx.results[b][n]["rps"] for n, _ in names for b in ctx.backends
              if ctx.results.get(b, {}).get(n, {}).get("rps")]
    sign = (ctx.signing or {}).get("rps")
    vmax = max(values + ([sign] if sign else []) + [1]) * 1.12
    x = lambda v: left + width * v / vmax  # noqa: E731
    esc = lambda s: s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "")  # noqa: E731
    total_w = left + width + 140
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{total_w}" height="{height}" '
         f'viewBox="0 0 {total_w} {height}" font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
         f'<rect width="{total_w}" height="{height}" fill="white"/>',
         f'<text x="{total_w / 2}" y="24" text-anchor="middle" font-size="16" font-weight="bold">'
         f'tcauth: requests/s per scenario ({esc(ctx.machine["date"][:10])}, {ctx.machine["nproc"]} cores, '
         f'{ctx.conns} connections, {ctx.secs} s)</text>']
    # legend
    lx = left
    for b in ctx.backends:
        s.append(f'<rect x="{lx}" y="38" width="14" height="14" fill="{colors[b]}"/>'
                 f'<text x="{lx + 20}" y="50">{"SQLite" if b == "sqlite" else "PostgreSQL"}</text>')
        lx += 120
    # grid
    step = 10 ** math.floor(math.log10(vmax / 5)) if vmax > 10 else 1
    for mult in (1, 2, 5, 10):
        if vmax / (step * mult) <= 8:
            step *= mult
            break
    v = 0
    while v <= vmax:
        s.append(f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" y2="{top + group_h * len(names)}" '
                 f'stroke="#e2e8f0"/><text x="{x(v):.1f}" y="{top + group_h * len(names) + 16}" '
                 f'text-anchor="middle" fill="#4a5568">{v / 1000:g}k</text>')
        v += step
    s.append(f'<text x="{left + width / 2}" y="{top + group_h * len(names) + 36}" text-anchor="middle" '
             f'fill="#4a5568">requests per second (overload: accepted)</text>')
    # ceilings
    marks = []
    for b in ctx.backends:
        c = ctx.results.get(b, {}).get("ceiling", {}).get("rps")
        if c:
            marks.append((c, colors[b], f"HTTP ceiling ({b})"))
    if sign:
        marks.append((sign, "#2f855a", "RSA signing ceiling"))
    for v, col, _ in marks:
        s.append(f'<line x1="{x(v):.1f}" y1="{top - 6}" x2="{x(v):.1f}" '
                 f'y2="{top + group_h * len(names)}" stroke="{col}" stroke-width="1.5" '
                 f'stroke-dasharray="5,4"/>')
    y = top
    for n, label in names:
        label = label.format(growth=short_count(ctx.growth_tokens))
        s.append(f'<text x="{left - 10}" y="{y + bar_h * len(ctx.backends) / 2 + 4}" text-anchor="end">'
                 f'{esc(label)}</text>')
        for b in ctx.backends:
            r = ctx.results.get(b, {}).get(n, {})
            v = r.get("rps")
            if v:
                s.append(f'<rect x="{left}" y="{y}" width="{max(1.0, x(v) - left):.1f}" '
                         f'height="{bar_h - 3}" fill="{colors[b]}"/>'
                         f'<text x="{x(v) + 5:.1f}" y="{y + bar_h - 5}" font-size="11" stroke="white" '
                         f'stroke-width="3" paint-order="stroke">{v:,.0f}</text>')
            y += bar_h
        y += gap
    # legend of the dashed lines
    ly = height - 14
    lx = 20
    for v, col, lab in marks:
        s.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{col}" '
                 f'stroke-width="1.5" stroke-dasharray="5,4"/><text x="{lx + 30}" y="{ly}" '
                 f'font-size="11">{esc(lab)}: {v:,.0f}/s</text>')
        lx += 250
    s.append("</svg>")
    return "\n".join(s) + "\n"

