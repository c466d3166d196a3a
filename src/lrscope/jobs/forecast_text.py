"""The forecast document in plain lines, for the terminal (``lrscope forecast`` without ``--json``)."""

from __future__ import annotations

TITLES = {"mpl": "multi-power law (Luo et al. 2025)", "tissue": "LR-annealing law (Tissue et al. 2024)",
          "power": "power law in steps", "area": "power law in the area under the rate (no annealing term)"}


def _pct(fraction) -> str:
    return "n/a" if fraction is None else f"{100 * fraction:.3g} %"


def forecast_lines(doc: dict) -> list[str]:
    fit = doc["fit"]
    names = ", ".join(r["name"] for r in fit["runs"])
    lines = [f"fitted {names} ({fit['rows']} rows): {TITLES.get(doc['law'], doc['law'])}; mean error "
             f"{_pct(fit['mean_rel_error'])}, worst {_pct(fit['max_rel_error'])}, held out "
             f"{_pct(fit['heldout_rel_error'])}",
             f"  why this law: {fit['choice']}"]
    for t in doc.get("targets", []):
        low, high = t["final_band"]
        line = (f"- {t['name']}: final {doc.get('loss_name', 'loss')} {t['final_loss']:#.4g} at step "
                f"{t['step'][-1]:.0f} (band {low:#.4g}-{high:#.4g})")
        if "mean_rel_error" in t:
            line += (f"; its log ends at {t['final_logged_loss']:#.4g}: error {_pct(t['mean_rel_error'])} mean, "
                     f"{_pct(t['max_rel_error'])} worst")
        lines.append(line)
    for entry in doc.get("longer", []):
        lines.append(f"- {entry['text'][0].upper()}{entry['text'][1:]}.")
    best = doc.get("best")
    if best:
        lines.append(f"- best of {len(best['candidates'])} in {best['family']}: {best['best']} (final "
                     f"{best['candidates'][0]['final_loss']:#.4g})")
        for row in best["candidates"][1:6]:
            lines.append(f"    {row['spec']}: {row['final_loss']:#.4g}")
        if best["within_band_of_best"]:
            lines.append(f"  within the band of the best: {', '.join(best['within_band_of_best'][:5])}")
    return lines
